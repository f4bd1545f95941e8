"""Every GraphQL operation in README.md runs, as written but for real ids, against `dev`."""

from __future__ import annotations

from pathlib import Path

from graphql import OperationType

from tests.dev.devprocess import Dev
from tests.newcomer.readme import RUN, Walkthrough, operations


def test_the_readme_shows_the_walkthrough_and_stand_in_ids_only() -> None:
    ops = operations()
    roots = [op.root for op in ops]
    # Submit, follow the status, follow the log, list the artifacts: in that order, first.
    assert roots[:4] == ["createJob", "runStatus", "runLogs", "run"]
    assert {"cancelRun", "rerunJob", "createInput", "finalizeInput", "createSchedule"} <= set(roots)
    assert ops[1].kind == OperationType.SUBSCRIPTION
    # Placeholders a reader cannot paste are gone: ids are stand-ins the walkthrough replaces.
    assert not [op.text for op in ops if '"…"' in op.text]


async def test_every_readme_operation_runs_against_dev(tmp_path: Path) -> None:
    dev = await Dev.start(tmp_path / "data")
    try:
        walk = Walkthrough(dev.url, (tmp_path / "data" / "dev-token").read_text().strip())
        await walk.run()
    finally:
        await dev.stop()
    assert len(walk.results) == len(operations())
    statuses = walk.first("runStatus")
    assert statuses[-1]["runStatus"]["status"] == "COMPLETED", statuses
    lines = [line["text"] for batch in walk.first("runLogs") for line in batch["runLogs"]["lines"]]
    assert "hi" in lines
    edges = walk.first("run")["run"]["artifacts"]["edges"]
    assert [edge["node"]["path"] for edge in edges] == ["ckpt/step-1"]
    assert walk.first("createJob")["createJob"]["run"]["id"] == walk.ids[RUN]
