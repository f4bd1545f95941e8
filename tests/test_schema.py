"""The checked-in schema.graphql is what the code exports (`walkai-jobs export-schema`)."""

from __future__ import annotations

from pathlib import Path

from app.graphql.schema import export_schema

SCHEMA = Path(__file__).parent.parent / "schema.graphql"


def test_schema_graphql_is_up_to_date() -> None:
    assert SCHEMA.read_text() == export_schema(), (
        "schema.graphql is stale: run `walkai-jobs export-schema --output schema.graphql`"
    )
