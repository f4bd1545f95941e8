"""Fuzzed secret and account mutations: only userErrors, never a server error or half a secret."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db.auth_models import Secret
from tests.secrets.operations import CREATE_SECRET
from tests.support.api import Api
from tests.support.fuzzing import examples
from tests.support.kubectl import kubectl

names = st.one_of(st.from_regex(r"[a-z0-9][-a-z0-9]{0,20}", fullmatch=True), st.text(max_size=70))
entries = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.one_of(st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True), st.text()),
            "value": st.text(max_size=50),
        }
    ),
    max_size=4,
)
FUZZ = settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def refused_as_nul(body: dict[str, Any], *texts: str) -> bool:
    """Text with NUL is refused for the whole operation, as an input error naming it."""
    if not any("\x00" in text for text in texts):
        return False
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "NUL" in error["message"]
    return True


async def kube_secret_count(api: Api) -> int:
    out = await kubectl(
        api.kubeconfig, "get", "secrets", "-l", "walkai.io/secret-id", "-o", "json",
        namespace=api.namespace,
    )  # fmt: skip
    return len(json.loads(out)["items"])


@FUZZ
@given(name=names, data=entries)
async def test_create_secret_never_fails_and_never_leaves_half(
    api: Api, name: str, data: list[dict[str, str]]
) -> None:
    rows, kube = await Secret.all().count(), await kube_secret_count(api)
    body = await api.http.execute(CREATE_SECRET, {"name": name, "data": data})
    if refused_as_nul(body, name, *(v for entry in data for v in entry.values())):
        assert (await Secret.all().count(), await kube_secret_count(api)) == (rows, kube)
        return
    assert not body.get("errors"), body
    payload = body["data"]["createSecret"]
    created = 1 if payload["secret"] else 0
    assert bool(payload["userErrors"]) != bool(created)
    assert await Secret.all().count() == rows + created
    assert await kube_secret_count(api) == kube + created


LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  viewer { id } userErrors { code } } }"""
ACCEPT = """mutation($t: String!, $p: String!, $n: String!) {
  acceptInvitation(token: $t, password: $p, name: $n) { viewer { id } userErrors { field } } }"""


@FUZZ
@given(email=st.text(max_size=80), password=st.text(max_size=80), name=st.text(max_size=200))
async def test_account_mutations_answer_with_user_errors_only(
    api: Api, email: str, password: str, name: str
) -> None:
    anonymous = api.anonymous()
    for query, variables in [
        (LOGIN, {"e": email, "p": password}),
        (ACCEPT, {"t": email, "p": password, "n": name}),
    ]:
        body = await anonymous.http.execute(query, variables)
        if refused_as_nul(body, *variables.values()):
            continue
        assert not body.get("errors"), body
        (payload,) = body["data"].values()
        assert payload["viewer"] is None and payload["userErrors"]
