"""Web sessions: invitation, login with an HTTP-only cookie, CSRF, logout, passwords, limits."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.api import Api

INVITE = "mutation($email: String!) { inviteUser(email: $email) { email userErrors { code } } }"
ACCEPT = """mutation($token: String!, $password: String!) {
  acceptInvitation(token: $token, password: $password, name: "New") {
    viewer { email role } csrfToken userErrors { field code } } }"""
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { viewer { email } csrfToken userErrors { code } } }"""
VIEWER = "{ viewer { email } }"
JOBS = "{ jobs(first: 1) { edges { node { id } } } }"
PASSWORD = "correct horse battery"


async def post(
    api: Api, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{api.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )


async def invited_user(api: Api) -> str:
    admin = await api.as_new_user(role="ADMIN")
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    assert (await admin.gql(INVITE, {"email": email}))["inviteUser"]["userErrors"] == []
    mail = api.platform.auth.mailer.last_to(email)  # type: ignore[attr-defined]
    token = mail.link.split("#", 1)[1]
    accepted = await post(api, ACCEPT, {"token": token, "password": PASSWORD})
    assert accepted.json()["data"]["acceptInvitation"]["viewer"]["role"] == "MEMBER"
    again = await post(api, ACCEPT, {"token": token, "password": PASSWORD})
    assert again.json()["data"]["acceptInvitation"]["userErrors"][0]["field"] == "token"
    return email


async def test_login_sets_an_http_only_cookie_that_needs_the_csrf_header(api: Api) -> None:
    email = await invited_user(api)
    response = await post(api, LOGIN, {"email": email, "password": PASSWORD})
    payload = response.json()["data"]["login"]
    assert payload["viewer"] == {"email": email}
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("walkai_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # the API's public URL is http:// here
    session = cookie.split(";", 1)[0]
    csrf = payload["csrfToken"]

    # The cookie alone (what a forged cross-site request carries) is anonymous.
    forged = await post(api, JOBS, Cookie=session)
    assert forged.status_code == 401
    good = await post(api, VIEWER, Cookie=session, **{"X-CSRF-Token": csrf})
    assert good.json()["data"]["viewer"] == {"email": email}

    logout = "mutation { logout { ok } }"
    assert (await post(api, logout, Cookie=session, **{"X-CSRF-Token": csrf})).json()["data"]
    after = await post(api, VIEWER, Cookie=session, **{"X-CSRF-Token": csrf})
    assert after.json()["data"]["viewer"] is None


async def test_wrong_passwords_are_rate_limited_and_resets_work_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = await invited_user(api)
    limiter = api.platform.auth.login_limiter
    frozen = limiter.clock()
    monkeypatch.setattr(limiter, "clock", lambda: frozen)  # no delay runs out meanwhile
    for _ in range(limiter.free_failures):
        wrong = await post(api, LOGIN, {"email": email, "password": "wrong password!"})
        assert wrong.json()["data"]["login"]["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
    limited = await post(api, LOGIN, {"email": email, "password": PASSWORD})
    assert limited.json()["data"]["login"]["userErrors"] == [{"code": "RATE_LIMITED"}]
    monkeypatch.undo()

    reset = "mutation($e: String!) { requestPasswordReset(email: $e) { ok } }"
    assert (await post(api, reset, {"e": email})).json()["data"]["requestPasswordReset"]["ok"]
    unknown = await post(api, reset, {"e": "nobody@example.com"})
    assert unknown.json()["data"]["requestPasswordReset"]["ok"]  # same answer
    token = api.platform.auth.mailer.last_to(email).link.split("#", 1)[1]  # type: ignore[attr-defined]
    use = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) { ok } }"
    new = "another long password"
    assert (await post(api, use, {"t": token, "p": new})).json()["data"]["resetPassword"]["ok"]
    assert not (await post(api, use, {"t": token, "p": new})).json()["data"]["resetPassword"]["ok"]


async def test_internal_errors_and_oversized_bodies_reveal_nothing(api: Api) -> None:
    huge = await post(api, "{ viewer { email } }" + " " * (2 * 1024 * 1024))
    assert huge.status_code == 413
    body = await api.http.execute(
        '{ jobs(first: 1, after: "!!not-a-cursor") { edges { cursor } } }'
    )
    text = str(body)
    assert "Traceback" not in text and "SELECT" not in text
