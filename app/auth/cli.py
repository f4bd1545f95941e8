"""`walkai-jobs admin-token EMAIL`: bootstrap an installation's first admin from the shell.

Creates the user as ADMIN if missing (an existing user is made ADMIN) and prints a new personal
access token for it; with it, the admin invites everyone else through the API.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


async def _admin_token(email: str, name: str) -> str:
    from app.auth.sessions import issue_access_token
    from app.config import load_settings
    from app.db.auth_models import Role, User
    from app.db.setup import close_database, open_database
    from app.services.users import create_user, email_problem, normalize_email

    email = normalize_email(email)
    if problem := email_problem(email):
        raise SystemExit(problem)
    await open_database(load_settings().resolved_database_url)
    try:
        user = await User.get_or_none(email=email)
        if user is None:
            user = await create_user(email, role=Role.ADMIN, name=name)
        elif user.role is not Role.ADMIN or not user.is_active:
            user.role, user.is_active = Role.ADMIN, True
            await user.save(update_fields=["role", "is_active"])
        _, token = await issue_access_token(user, name or "admin")
        return token
    finally:
        await close_database()


def _run(args: argparse.Namespace) -> int:
    sys.stdout.write(asyncio.run(_admin_token(args.email, args.name)) + "\n")
    return 0


def register(commands: Any) -> None:
    """Add the `admin-token` subcommand."""
    parser = commands.add_parser(
        "admin-token", help="create (or promote) an admin and print a new access token for it"
    )
    parser.add_argument("email", help="the admin's email address")
    parser.add_argument("--name", default="admin", help="the token's name")
    parser.set_defaults(handler=_run)
