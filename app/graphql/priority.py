"""The GraphQL `Priority` enum, registered once before any type that names it."""

from __future__ import annotations

import strawberry

from app.domain.priority import Priority
from app.graphql.enums import describe_values

PriorityEnum = describe_values(
    strawberry.enum(
        Priority,
        name="Priority",
        description="How urgently a run should get a GPU slice; higher may preempt lower.",
    ),
    {
        Priority.LOW: "Runs when nothing more urgent waits; the first to be preempted.",
        Priority.MEDIUM: "The default.",
        Priority.HIGH: "Ahead of LOW and MEDIUM; may preempt them.",
        Priority.EXTRA_HIGH: "Ahead of every other run; may preempt any lower priority.",
    },
)
