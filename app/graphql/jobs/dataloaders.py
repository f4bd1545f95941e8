"""Batch loading of Jobs, and of the inputs and secrets they name: one query per request each,
whatever the number of runs or Jobs asking."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from strawberry.dataloader import DataLoader

from app.db.auth_models import Secret
from app.db.models import Job
from app.db.storage_models import Input

M = TypeVar("M", Job, Input, Secret)


def _by_id(model: type[M]) -> Callable[[Sequence[UUID]], Awaitable[list[M | None]]]:
    async def load(ids: Sequence[UUID]) -> list[M | None]:
        found: dict[Any, M] = {row.pk: row for row in await model.filter(id__in=list(ids))}
        return [found.get(id_) for id_ in ids]

    return load


class JobLoaders:
    """The Job loaders of one request."""

    def __init__(self) -> None:
        self.by_id: DataLoader[UUID, Job | None] = DataLoader(load_fn=_by_id(Job))
        self.inputs: DataLoader[UUID, Input | None] = DataLoader(load_fn=_by_id(Input))
        self.secrets: DataLoader[UUID, Secret | None] = DataLoader(load_fn=_by_id(Secret))
