"""Every operation of frontend_contract/ runs against the API and returns what its screen shows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.contract import scenarios_accounts, scenarios_storage
from tests.contract.contract import operations
from tests.contract.scenarios import SCENARIOS, ContractData
from tests.support.api import Api


@pytest.fixture(scope="module")
async def contract_data(api: Api) -> AsyncIterator[ContractData]:
    yield await ContractData.create(api)


def test_every_operation_has_a_scenario() -> None:
    assert scenarios_accounts and scenarios_storage  # they register their scenarios
    assert set(operations()) - set(SCENARIOS) == set(), "add these to tests/contract/scenarios.py"
    assert set(SCENARIOS) - set(operations()) == set(), "scenarios for operations that are gone"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_operation_end_to_end(name: str, api: Api, contract_data: ContractData) -> None:
    await SCENARIOS[name](api, contract_data)
