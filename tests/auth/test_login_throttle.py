"""Guessing passwords: one credential check per request, checks off the event loop, delays per
account that never lock its owner out, and limits on the client's real address."""

from __future__ import annotations

import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from ipaddress import ip_network
from typing import Any

import httpx
import pytest

from app.auth import passwords
from app.auth.ratelimit import LoginLimiter, utcnow
from app.db.throttle_models import LoginThrottle
from app.services.users import create_user
from tests.support.api import Api
from tests.support.servers import Served, serve

PASSWORD = "correct horse battery"
LOGIN = """mutation($email: String!, $password: String!) {
  login(email: $email, password: $password) { viewer { email } userErrors { code } } }"""
CHANGE = """mutation($current: String!) {
  changePassword(currentPassword: $current, newPassword: "another long password") {
    ok userErrors { code } } }"""


async def _post(
    base_url: str, query: str, variables: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base_url}/graphql",
            json={"query": query, "variables": variables},
            headers=headers or {},
        )
        body: dict[str, Any] = response.json()
        return body


async def _login(
    base_url: str, email: str, password: str, forwarded: str | None = None
) -> list[str]:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    body = await _post(base_url, LOGIN, {"email": email, "password": password}, headers)
    assert "errors" not in body, body
    return [e["code"] for e in body["data"]["login"]["userErrors"]]


async def _account() -> str:
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    await create_user(email, password=PASSWORD)
    return email


@contextmanager
def _limits(limiter: LoginLimiter, **values: Any) -> Iterator[list[timedelta]]:
    """Set the limiter's limits for a test, and stop its clock: the yielded list's one item is
    how far the clock is moved on (tests move it instead of waiting)."""
    saved = {name: getattr(limiter, name) for name in (*values, "clock")}
    offset = [timedelta()]
    for name, value in values.items():
        setattr(limiter, name, value)
    start = utcnow()  # frozen: time moves only when the test moves it
    limiter.clock = lambda: start + offset[0]
    try:
        yield offset
    finally:
        for name, value in saved.items():
            setattr(limiter, name, value)


@pytest.fixture
async def clean_counts(api: Api) -> AsyncIterator[None]:
    """Other tests log in from 127.0.0.1 too: the counts a test leaves are removed."""
    yield
    await LoginThrottle.all().delete()


@pytest.fixture
async def behind_proxy(api: Api, clean_counts: None) -> AsyncIterator[Served]:
    """A replica that believes X-Forwarded-For from 127.0.0.1 (its reverse proxy)."""
    proxies = [ip_network("127.0.0.1/32")]
    settings = api.platform.settings.model_copy(update={"trusted_proxies": proxies})
    async with serve(settings, share_database=True) as served:
        yield served


async def test_aliased_credential_mutations_are_refused_before_any_check(api: Api) -> None:
    guesses = " ".join(
        f'g{i}: changePassword(currentPassword: "guess {i}", newPassword: "x" * 12) {{ ok }}'
        for i in range(100)
    ).replace('"x" * 12', '"long enough password"')
    body = await api.http.execute(f"mutation {{ {guesses} }}")
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "ONE_CREDENTIAL_CHECK"
    mixed = """mutation { ...Both }
      fragment Both on Mutation {
        login(email: "a@example.com", password: "p") { viewer { email } }
        resetPassword(token: "t", newPassword: "long enough password") { ok } }"""
    body = await api.anonymous().http.execute(mixed)
    assert body["errors"][0]["extensions"]["code"] == "ONE_CREDENTIAL_CHECK"


async def test_passwords_are_checked_off_the_event_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch, clean_counts: None
) -> None:
    threads: list[threading.Thread] = []
    verify = passwords._verify

    def recording(password_hash: str | None, password: str) -> bool:
        threads.append(threading.current_thread())
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "_verify", recording)
    email = await _account()
    assert await _login(api.base_url, email, PASSWORD) == []
    assert threads and threading.main_thread() not in threads


async def test_change_password_is_throttled_with_the_accounts_logins(
    api: Api, clean_counts: None
) -> None:
    email = await _account()
    owner = await _owner_api(api, email)
    limiter = api.platform.auth.login_limiter
    with _limits(limiter, free_failures=3, max_delay=30) as clock:
        for _ in range(3):
            body = await owner.http.execute(CHANGE, {"current": "wrong password!"})
            assert body["data"]["changePassword"]["userErrors"] == [{"code": "INVALID_CREDENTIALS"}]
        # The fourth guess must wait, whatever it is, and so must a login to the account.
        body = await owner.http.execute(CHANGE, {"current": PASSWORD})
        assert body["data"]["changePassword"]["userErrors"] == [{"code": "RATE_LIMITED"}]
        assert await _login(api.base_url, email, PASSWORD) == ["RATE_LIMITED"]
        clock[0] += timedelta(seconds=30)
        body = await owner.http.execute(CHANGE, {"current": PASSWORD})
        assert body["data"]["changePassword"] == {"ok": True, "userErrors": []}


async def _owner_api(api: Api, email: str) -> Api:
    """The API called with a token of the account `email`."""
    from app.auth.sessions import issue_access_token
    from app.db.auth_models import User

    user = await User.get(email=email)
    _, token = await issue_access_token(user, "test")
    return api.with_token(token, user)


async def test_failures_from_many_addresses_never_lock_the_owner_out(
    api: Api, behind_proxy: Served
) -> None:
    email = await _account()
    limiter = behind_proxy.platform.auth.login_limiter
    with _limits(limiter, free_failures=5, max_delay=30) as clock:
        answers = [
            await _login(behind_proxy.base_url, email, f"guess {i}", f"198.51.100.{i}")
            for i in range(10)
        ]
        # Five guesses are checked; the others wait for the account's delay, unchecked.
        assert answers.count(["INVALID_CREDENTIALS"]) == 5
        assert answers.count(["RATE_LIMITED"]) == 5
        for _ in range(20):  # the attack goes on: each delay is capped, nothing locks
            clock[0] += timedelta(seconds=30)
            assert await _login(behind_proxy.base_url, email, "guess", "198.51.100.99") == [
                "INVALID_CREDENTIALS"
            ]
        clock[0] += timedelta(seconds=30)
        # The owner, from an address never seen, gets in with the right password.
        assert await _login(behind_proxy.base_url, email, PASSWORD, "203.0.113.5") == []


async def test_rotating_forwarded_for_does_not_escape_the_address_limit(
    api: Api, clean_counts: None
) -> None:
    limiter = api.platform.auth.login_limiter
    with _limits(limiter, per_address=3):
        answers = [
            await _login(api.base_url, f"nobody-{i}@example.com", "guess", f"10.0.0.{i}")
            for i in range(5)
        ]
    assert answers == [["INVALID_CREDENTIALS"]] * 3 + [["RATE_LIMITED"]] * 2


async def test_a_trusted_proxy_names_the_client_and_the_client_cannot(
    api: Api, behind_proxy: Served
) -> None:
    limiter = behind_proxy.platform.auth.login_limiter
    with _limits(limiter, per_address=2):
        # Behind the proxy, each real client has its own allowance...
        for i in range(3):
            forwarded = f"198.51.100.{i}"
            assert await _login(behind_proxy.base_url, "x@example.com", "g", forwarded) == [
                "INVALID_CREDENTIALS"
            ]
        # ...and what a client writes before its real address changes nothing.
        answers = [
            await _login(behind_proxy.base_url, "y@example.com", "g", f"10.9.9.{i}, 203.0.113.7")
            for i in range(3)
        ]
    assert answers == [["INVALID_CREDENTIALS"]] * 2 + [["RATE_LIMITED"]]
