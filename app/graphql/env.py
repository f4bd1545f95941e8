"""The environment variable type shared by Jobs and the runs that override theirs."""

from __future__ import annotations

import strawberry


@strawberry.type(name="EnvVar", description="An environment variable of the main container.")
class EnvVarType:
    """A name/value pair."""

    name: str = strawberry.field(description="Variable name.")
    value: str = strawberry.field(description="Variable value.")

    @classmethod
    def from_stored(cls, env: list[dict[str, str]]) -> list[EnvVarType]:
        """Wrap stored `{"name", "value"}` pairs."""
        return [cls(name=v["name"], value=v["value"]) for v in env]
