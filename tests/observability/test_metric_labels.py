"""Metric labels are bounded: invented operation names do not grow /metrics."""

from __future__ import annotations

import httpx

from app.observability.metrics import CONTRACT_DIR, contract_operations
from tests.contract.contract import operations
from tests.support.api import Api


async def _metrics(api: Api) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{api.base_url}/metrics")
        return response.text


async def test_invented_operation_names_share_one_label(api: Api) -> None:
    await api.http.execute("query Viewer { viewer { email } }")
    await api.http.execute("query FirstInvented { viewer { email } }")
    before = await _metrics(api)
    for i in range(60):
        await api.http.execute(f"query Invented{i}x{'y' * 60} {{ viewer {{ email }} }}")
    after = await _metrics(api)
    assert "Invented" not in after
    assert 'operation="other"' in after
    assert 'operation="Viewer"' in after  # the contract's names keep their own
    # Not one series more: the `other` ones existed already.
    assert after.count("\n") == before.count("\n")


def test_every_contract_operation_name_is_known() -> None:
    assert contract_operations(CONTRACT_DIR) == set(operations())
