"""Database start-up and shutdown, and the one Tortoise configuration (app and migrations)."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.migrations.api import migrate

# One module per area; all form the single Tortoise app `models`.
MODELS = [
    "app.db.models",  # Jobs, runs, timelines
    "app.db.auth_models",  # users, teams, tokens, sessions, secrets
    "app.db.log_models",  # log lines and archives
    "app.db.storage_models",  # inputs and run outputs
    "app.db.schedule_models",  # schedules of Jobs
    "app.db.quota_models",  # users' and teams' quotas
    "app.db.throttle_models",  # failed login counts
]
MIGRATIONS = "app.db.migrations"


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The one Tortoise configuration: a `models` app and its migrations package."""
    return {
        "connections": {"default": database_url},
        "apps": {
            "models": {
                "models": MODELS,
                "default_connection": "default",
                "migrations": MIGRATIONS,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate_database(database_url: str) -> None:
    """Apply every pending migration (idempotent); the schema is never created any other way."""
    await migrate(config=tortoise_config(database_url))
    await Tortoise.close_connections()


async def open_database(database_url: str, *, apply_migrations: bool = True) -> None:
    """Migrate, then open the connections the app uses."""
    if apply_migrations:
        await migrate_database(database_url)
    # The lifespan runs in its own task; requests and watches run in others. The global
    # fallback makes the connections visible to all of them, not just to this task's context.
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_database() -> None:
    """Close every connection."""
    await Tortoise.close_connections()


# For the `tortoise` command line:
# python -m tortoise -c app.db.setup.TORTOISE_ORM makemigrations
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
