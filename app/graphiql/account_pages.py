"""`dev` only: the pages that mailed account links open (`/invite#<token>`, `/reset#<token>`).

In production those links lead to the web app (`WALKAI_WEB_APP_URL`). `dev` has no web app, so
it answers them itself with a small form that sends the `acceptInvitation` or `resetPassword`
mutation. The token stays in the URL's fragment: browsers never send it to the server, so it
reaches neither the access log nor a proxy; the page's script reads it and posts it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

ACCEPT_INVITATION = """mutation AcceptInvitation(
    $token: String!, $password: String!, $name: String!) {
  acceptInvitation(token: $token, password: $password, name: $name) {
    viewer { email role } userErrors { field message code } } }"""

RESET_PASSWORD = """mutation ResetPassword($token: String!, $password: String!) {
  resetPassword(token: $token, newPassword: $password) { ok userErrors { field message code } } }"""


@dataclass(frozen=True)
class AccountPage:
    """One link's page: its path, what it says, the mutation it sends and whether it asks a name."""

    path: str
    title: str
    button: str
    mutation: str
    field: str
    asks_name: bool


INVITE = AccountPage(
    "/invite",
    "Create your walk:ai account",
    "Create account",
    ACCEPT_INVITATION,
    "acceptInvitation",
    asks_name=True,
)
RESET = AccountPage(
    "/reset",
    "Choose a new walk:ai password",
    "Set password",
    RESET_PASSWORD,
    "resetPassword",
    asks_name=False,
)

_SCRIPT = """
const form = document.getElementById("account");
const out = document.getElementById("result");
const token = decodeURIComponent(location.hash.slice(1));
if (!token) { out.textContent = "This link has no token: open the link from the mail as it is."; }
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const variables = {token, password: form.password.value};
  if (form.name) { variables.name = form.name.value; }
  const response = await fetch("/graphql", {method: "POST", credentials: "same-origin",
    headers: {"content-type": "application/json"},
    body: JSON.stringify({query: QUERY, variables})});
  const body = await response.json();
  const payload = (body.data || {})[FIELD];
  const errors = payload ? payload.userErrors : (body.errors || []);
  out.textContent = errors.length
    ? errors.map((e) => (e.field ? e.field + ": " : "") + e.message).join("\\n")
    : DONE;
  if (!errors.length) { form.hidden = true; }
});
"""


def render(page: AccountPage) -> str:
    """The page's HTML: a form and the script that posts it to `/graphql`."""
    name = '<label>Name <input name="name" autocomplete="name"></label>' if page.asks_name else ""
    done = (
        "Done: your account is ready; sign in with your email and this password."
        if page.asks_name
        else "Done: sign in with your new password."
    )
    script = (
        f"const QUERY = {json.dumps(page.mutation)};\nconst FIELD = {json.dumps(page.field)};\n"
        f"const DONE = {json.dumps(done)};\n{_SCRIPT}"
    ).replace("</", "<\\/")
    title = html.escape(page.title)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="referrer" content="no-referrer">
<style>body{{font-family:sans-serif;max-width:28rem;margin:3rem auto}}
label{{display:block;margin:.8rem 0}}input{{display:block;width:100%}}</style></head>
<body><h1>{title}</h1>
<form id="account">{name}
<label>Password (at least 10 characters)
<input name="password" type="password" minlength="10" required autocomplete="new-password">
</label><button type="submit">{html.escape(page.button)}</button></form>
<p id="result" role="status"></p>
<script>{script}</script></body></html>
"""


def routes() -> list[Route]:
    """`/invite` and `/reset`, for `dev`."""

    def endpoint(page: AccountPage) -> Route:
        body = render(page)

        async def show(request: Request) -> Response:
            return HTMLResponse(body, headers={"Cache-Control": "no-store"})

        return Route(page.path, show, methods=["GET"])

    return [endpoint(INVITE), endpoint(RESET)]
