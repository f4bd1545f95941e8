"""The fault suite: each scenario at a small size; it holds only when nothing was lost,
duplicated or left wrong (`bench/run.py faults` plays them larger and prints the counts)."""

from __future__ import annotations

import pytest

from tests.faults.scenarios import SCENARIOS, Scenario
from tests.support.api import Api

SUITE = [scenario for scenario in SCENARIOS if scenario.in_suite]


@pytest.mark.parametrize("scenario", SUITE, ids=[s.name for s in SUITE])
async def test_nothing_is_lost_duplicated_or_left_wrong(api: Api, scenario: Scenario) -> None:
    report = await scenario.play(api, scenario.suite)
    print(report.text())
    assert report.held, report.text()
