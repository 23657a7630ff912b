"""`/ready` fails only for what a service cannot serve without; the broker only degrades it."""

from __future__ import annotations

from urllib.parse import urlparse, urlunparse

import httpx
import pytest
from sqlalchemy import Column, Integer, Table

from ampflux_shared.app import ServiceSpec, create_service_app
from ampflux_shared.db import new_metadata
from ampflux_shared.events import EventTables
from ampflux_shared.settings import ServiceSettings
from ampflux_testing.polling import eventually
from ampflux_testing.tcp_proxy import TcpProxy


async def _ready(app) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/ready")


async def _failing() -> None:
    raise ConnectionError("refused")


async def _ok() -> None:
    return None


async def test_a_failing_required_check_is_503_and_a_failing_degraded_one_is_200(tmp_path):
    settings = ServiceSettings(service_name="ready", data_dir=tmp_path)
    degraded = create_service_app(
        ServiceSpec(
            title="x",
            settings=settings,
            verify_tokens=False,
            readiness_checks={"vault": _ok},
            degraded_readiness_checks={"cache": _failing},
        )
    )
    async with degraded.router.lifespan_context(degraded):
        response = await _ready(degraded)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["degraded"] == ["cache"]
    assert body["checks"]["vault"] == "ok" and body["checks"]["cache"].startswith("failed: ConnectionError")

    down = create_service_app(
        ServiceSpec(title="x", settings=settings, verify_tokens=False, readiness_checks={"vault": _failing})
    )
    async with down.router.lifespan_context(down):
        response = await _ready(down)
    assert response.status_code == 503
    assert response.json()["checks"]["vault"].startswith("failed")


@pytest.mark.rabbitmq
async def test_the_broker_down_leaves_a_service_ready_but_degraded(tmp_path, amqp_url):
    target = urlparse(amqp_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    await proxy.open()
    try:
        netloc = f"{target.username or 'guest'}:{target.password or 'guest'}@127.0.0.1:{proxy.port}"
        md = new_metadata()
        Table("t", md, Column("id", Integer, primary_key=True))
        settings = ServiceSettings(
            service_name="readybus", data_dir=tmp_path, amqp_url=urlunparse(target._replace(netloc=netloc))
        )
        app = create_service_app(
            ServiceSpec(title="x", settings=settings, metadata=md, event_tables=EventTables(md), verify_tokens=False)
        )
        async with app.router.lifespan_context(app):
            first = await _ready(app)
            assert first.status_code == 200 and first.json() == {
                "status": "ready",
                "checks": {"database": "ok", "broker": "ok"},
            }
            await proxy.close()
            seen: list[httpx.Response] = []

            async def degraded() -> httpx.Response | None:
                seen.append(response := await _ready(app))
                if response.json().get("status") == "degraded":
                    return response
                assert response.status_code == 200, response.text
                return None

            response = await eventually(degraded, timeout=15, interval=0.1, what=lambda: seen[-1].text)
            assert response.status_code == 200
            assert response.json()["degraded"] == ["broker"]
            assert response.json()["checks"]["database"] == "ok"
            await proxy.open()  # let the bus reconnect so its shutdown is quick
    finally:
        await proxy.close()
