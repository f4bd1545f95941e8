"""Health and readiness, as a load balancer and an operator see them."""

from __future__ import annotations

import httpx

from tests.support.api import Api


async def test_healthz_and_readyz_report_every_dependency(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.base_url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"database": True, "objectStore": True, "kubernetes": True},
    }


async def test_readyz_fails_while_kubernetes_fails(api: Api) -> None:
    api.cluster.faults.fail_next(3, 503, path_prefix="/version")
    async with httpx.AsyncClient(base_url=api.base_url) as http:
        ready = await http.get("/readyz")
    api.cluster.faults.clear()
    assert ready.status_code == 503
    assert ready.json()["checks"]["kubernetes"] is False
    assert ready.json()["checks"]["database"] is True
