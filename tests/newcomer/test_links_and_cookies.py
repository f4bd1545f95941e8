"""Where mailed links lead, and when session cookies are `Secure`, outside `dev`."""

from __future__ import annotations

from starlette.routing import Route

from app.auth.sessions import secure_cookies
from app.config import load_settings
from app.server import create_app


def test_links_lead_to_the_web_app_when_it_is_configured() -> None:
    settings = load_settings(
        public_url="https://api.walkai.test/", web_app_url="https://walkai.test/"
    )
    assert settings.resolved_web_app_url == "https://walkai.test"
    assert load_settings(public_url="https://api.walkai.test").resolved_web_app_url == (
        "https://api.walkai.test"
    )


def test_only_dev_serves_the_account_pages() -> None:
    def paths(profile: str) -> set[str]:
        app = create_app(load_settings(profile=profile))  # type: ignore[arg-type]
        return {r.path for r in app.routes if isinstance(r, Route)}

    assert {"/invite", "/reset"} <= paths("dev")
    assert not {"/invite", "/reset"} & paths("production")


def test_cookies_are_secure_over_https_only() -> None:
    assert secure_cookies("https://walkai.example.com")
    assert secure_cookies("HTTPS://walkai.example.com")
    assert not secure_cookies("http://127.0.0.1:8000")
