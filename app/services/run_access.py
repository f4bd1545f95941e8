"""Who may use a run credential, and for what: the resolver behind the storage broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from app.db.models import Run
from app.db.storage_models import Input, InputFile, JobInputLink
from app.domain.outputs import credential_valid
from app.sidecar.credentials import InputGrant, RunScope, RunTokens, input_prefix

# The run ends when its main container does; the sidecar is stopped a moment later.
_SLACK = timedelta(seconds=60)


def scope_resolver(
    tokens: RunTokens, upload_grace_seconds: int
) -> Callable[[str], Awaitable[RunScope | None]]:
    """The broker's resolver: token → the run's scope while its credential is valid."""
    grace = timedelta(seconds=upload_grace_seconds) + _SLACK

    async def resolve(token: str) -> RunScope | None:
        run_id = tokens.verify(token)
        if run_id is None:
            return None
        run = await Run.get_or_none(id=run_id)
        if run is None:
            return None
        if not credential_valid(run.finished_at, run.status.terminal, datetime.now(UTC), grace):
            return None
        return RunScope(run_id=str(run.id), inputs=tuple(await _grants(run)))

    return resolve


async def _grants(run: Run) -> list[InputGrant]:
    links = await JobInputLink.filter(job_id=run.job_id).order_by("position")  # type: ignore[attr-defined]
    ids = [link.input_id for link in links]  # type: ignore[attr-defined]
    inputs = {item.id: item for item in await Input.filter(id__in=ids)}
    files: dict[object, list[tuple[str, int]]] = {}
    for file in await InputFile.filter(input_id__in=ids).order_by("path"):
        files.setdefault(file.input_id, []).append((file.path, file.size))  # type: ignore[attr-defined]
    return [
        InputGrant(name=inputs[id_].name, prefix=input_prefix(id_), files=tuple(files.get(id_, ())))
        for id_ in ids
        if id_ in inputs
    ]
