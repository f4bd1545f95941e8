"""End-to-end scenarios of the account screens: Login, Profile, Users (admin), and the CLI's
token check. The login screen is anonymous by nature, so its scenarios talk HTTP with a cookie
jar as a browser does; everything else goes through the Api fixture's clients."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.contract.contract import operation
from tests.contract.scenarios import ContractData, scenario
from tests.support.api import Api

PASSWORD = "correct horse battery staple"
SESSION = "walkai_session"


def fresh_email(tag: str) -> str:
    return f"contract-{tag}-{uuid.uuid4().hex[:8]}@example.com"


class Browser:
    """The web app in a browser: the session cookie it was given, sent back with its CSRF token.

    The cookie is `Secure`, which an HTTP client on plain http:// would not send back: it is
    kept here by hand, as a browser on https does."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.http = httpx.AsyncClient()
        self.cookie = ""
        self.csrf = ""

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def send(self, name: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Data of an operation that must succeed."""
        headers = {"Cookie": self.cookie, "X-CSRF-Token": self.csrf} if self.cookie else {}
        response = await self.http.post(
            f"{self.api.base_url}/graphql",
            json={"query": operation(name), "variables": variables or {}},
            headers=headers,
        )
        for header in response.headers.get_list("set-cookie"):
            if header.startswith(f"{SESSION}="):
                self.cookie = header.split(";", 1)[0]
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        for payload in body["data"].values():
            if isinstance(payload, dict) and payload.get("csrfToken"):
                self.csrf = payload["csrfToken"]
        return body["data"]


async def invite(api: Api, email: str, role: str = "MEMBER") -> str:
    """Invite through the admin screen's operation; the mailed link's token."""
    admin = await api.as_new_user(role="ADMIN")
    sent = (await admin.gql(operation("InviteUser"), {"email": email, "role": role}))["inviteUser"]
    assert sent["userErrors"] == [] and sent["email"] == email and sent["expiresAt"]
    mail = api.platform.auth.mailer.last_to(email)  # type: ignore[attr-defined]
    return str(mail.link.split("#", 1)[1])


async def signed_up(api: Api, browser: Browser, tag: str) -> str:
    """A person who accepted an invitation (signed in on `browser`); their email."""
    email = fresh_email(tag)
    token = await invite(api, email)
    variables = {"token": token, "password": PASSWORD, "name": "Ada Contract"}
    accepted = (await browser.send("AcceptInvitation", variables))["acceptInvitation"]
    assert accepted["userErrors"] == [] and accepted["csrfToken"]
    return email


async def viewer_id(api: Api) -> str:
    viewer = (await api.gql(operation("Viewer")))["viewer"]
    return str(viewer["id"])


# Login ----------------------------------------------------------------------------------------


@scenario("AcceptInvitation")
async def accept_invitation(api: Api, data: ContractData) -> None:
    async with Browser(api) as browser:
        email = await signed_up(api, browser, "accept")
        me = (await browser.send("Viewer"))["viewer"]
    assert (me["email"], me["name"], me["role"], me["isActive"]) == (
        email,
        "Ada Contract",
        "MEMBER",
        True,
    )


@scenario("Login")
async def login(api: Api, data: ContractData) -> None:
    async with Browser(api) as first:
        email = await signed_up(api, first, "login")
    async with Browser(api) as browser:
        wrong = (await browser.send("Login", {"email": email, "password": "not it at all"}))[
            "login"
        ]
        assert wrong["viewer"] is None and wrong["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
        done = (await browser.send("Login", {"email": email, "password": PASSWORD}))["login"]
        assert done["userErrors"] == [] and done["viewer"]["email"] == email
        assert (await browser.send("Viewer"))["viewer"]["email"] == email


@scenario("Viewer")
async def viewer(api: Api, data: ContractData) -> None:
    assert api.user is not None
    me = (await api.gql(operation("Viewer")))["viewer"]
    assert me["email"] == api.user.email and me["role"] == "MEMBER" and me["isActive"] is True
    assert (await api.anonymous().gql(operation("Viewer")))["viewer"] is None


@scenario("Logout")
async def logout(api: Api, data: ContractData) -> None:
    async with Browser(api) as browser:
        await signed_up(api, browser, "logout")
        assert (await browser.send("Logout"))["logout"] == {"ok": True, "userErrors": []}
        assert (await browser.send("Viewer"))["viewer"] is None


# Profile --------------------------------------------------------------------------------------


@scenario("Profile")
async def profile(api: Api, data: ContractData) -> None:
    me = await api.as_new_user()
    assert me.user is not None
    shown = await me.gql(operation("Profile"))
    assert shown["viewer"]["email"] == me.user.email
    # A new account: nothing used yet, no storage kept.
    assert shown["viewer"]["usage"]["slicesInUse"] == 0
    assert shown["viewer"]["storage"]["usedBytes"] == 0
    (token,) = shown["accessTokens"]
    assert token["name"] == "tests" and token["createdAt"] and token["prefix"]


@scenario("CreateAccessToken")
async def create_access_token(api: Api, data: ContractData) -> None:
    me = await api.as_new_user()
    variables = {"name": "laptop cli", "expiresAt": None}
    created = (await me.gql(operation("CreateAccessToken"), variables))["createAccessToken"]
    assert created["userErrors"] == [] and created["accessToken"]["name"] == "laptop cli"
    assert created["token"].startswith(created["accessToken"]["prefix"])
    cli = me.with_token(created["token"])
    assert (await cli.gql(operation("CliViewer")))["viewer"]["email"] == me.user.email  # type: ignore[union-attr]
    listed = (await me.gql(operation("Profile")))["accessTokens"]
    assert {t["name"] for t in listed} == {"tests", "laptop cli"}


@scenario("RevokeAccessToken")
async def revoke_access_token(api: Api, data: ContractData) -> None:
    me = await api.as_new_user()
    created = (await me.gql(operation("CreateAccessToken"), {"name": "old"}))["createAccessToken"]
    token_id = created["accessToken"]["id"]
    revoked = (await me.gql(operation("RevokeAccessToken"), {"id": token_id}))["revokeAccessToken"]
    assert revoked == {"revokedId": token_id, "userErrors": []}
    body = await me.with_token(created["token"]).http.execute(operation("CliViewer"))
    assert body.get("errors") or body["data"]["viewer"] is None, "a revoked token is refused"
    assert "old" not in {t["name"] for t in (await me.gql(operation("Profile")))["accessTokens"]}


@scenario("CliViewer")
async def cli_viewer(api: Api, data: ContractData) -> None:
    assert api.user is not None
    shown = (await api.gql(operation("CliViewer")))["viewer"]
    assert shown == {"id": shown["id"], "email": api.user.email, "role": "MEMBER"}


# Users (admin) --------------------------------------------------------------------------------


@scenario("UsersAdmin")
async def users_admin(api: Api, data: ContractData) -> None:
    admin = await api.as_new_user(role="ADMIN")
    member = await api.as_new_user(teams=("contract-team",))
    shown = await admin.gql(operation("UsersAdmin"))
    rows = {u["email"]: u for u in shown["users"]}
    assert member.user is not None and admin.user is not None
    assert rows[admin.user.email]["role"] == "ADMIN"
    assert [t["name"] for t in rows[member.user.email]["teams"]] == ["contract-team"]
    assert "contract-team" in {t["name"] for t in shown["teams"]}
    # A member sees only themselves and their own teams.
    mine = await member.gql(operation("UsersAdmin"))
    assert [u["email"] for u in mine["users"]] == [member.user.email]
    assert [t["name"] for t in mine["teams"]] == ["contract-team"]


@scenario("InviteUser")
async def invite_user(api: Api, data: ContractData) -> None:
    admin = await api.as_new_user(role="ADMIN")
    bad = (await admin.gql(operation("InviteUser"), {"email": "not-an-email", "role": "MEMBER"}))[
        "inviteUser"
    ]
    assert [e["field"] for e in bad["userErrors"]] == ["email"]
    assert await invite(api, fresh_email("invite"))


@scenario("CreateTeam")
async def create_team(api: Api, data: ContractData) -> None:
    admin = await api.as_new_user(role="ADMIN")
    name = f"team-{uuid.uuid4().hex[:6]}"
    made = (await admin.gql(operation("CreateTeam"), {"name": name}))["createTeam"]
    assert made["userErrors"] == [] and made["team"]["name"] == name and made["team"]["id"]
    again = (await admin.gql(operation("CreateTeam"), {"name": name}))["createTeam"]
    assert again["team"] is None and again["userErrors"][0]["code"] == "DUPLICATE"


async def team_and_member(api: Api) -> tuple[Api, str, Api, str]:
    admin = await api.as_new_user(role="ADMIN")
    team = (await admin.gql(operation("CreateTeam"), {"name": f"t-{uuid.uuid4().hex[:6]}"}))[
        "createTeam"
    ]["team"]
    member = await api.as_new_user()
    return admin, team["id"], member, await viewer_id(member)


def teams_of(shown: dict[str, Any], user_id: str) -> list[str]:
    return [t["id"] for u in shown["users"] if u["id"] == user_id for t in u["teams"]]


@scenario("AddTeamMember")
async def add_team_member(api: Api, data: ContractData) -> None:
    admin, team_id, _, user_id = await team_and_member(api)
    added = await admin.gql(operation("AddTeamMember"), {"teamId": team_id, "userId": user_id})
    assert added["addTeamMember"] == {"ok": True, "userErrors": []}
    assert teams_of(await admin.gql(operation("UsersAdmin")), user_id) == [team_id]


@scenario("RemoveTeamMember")
async def remove_team_member(api: Api, data: ContractData) -> None:
    admin, team_id, _, user_id = await team_and_member(api)
    ids = {"teamId": team_id, "userId": user_id}
    await admin.gql(operation("AddTeamMember"), ids)
    removed = await admin.gql(operation("RemoveTeamMember"), ids)
    assert removed["removeTeamMember"] == {"ok": True, "userErrors": []}
    assert teams_of(await admin.gql(operation("UsersAdmin")), user_id) == []


@scenario("DeactivateUser")
async def deactivate_user(api: Api, data: ContractData) -> None:
    admin, _, member, user_id = await team_and_member(api)
    done = await admin.gql(operation("DeactivateUser"), {"id": user_id})
    assert done["deactivateUser"] == {"ok": True, "userErrors": []}
    rows = {u["id"]: u for u in (await admin.gql(operation("UsersAdmin")))["users"]}
    assert rows[user_id]["isActive"] is False
    body = await member.http.execute(operation("CliViewer"))
    assert body.get("errors") or body["data"]["viewer"] is None, "their token stops working"
