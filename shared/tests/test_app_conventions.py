"""The conventions create_service_app gives every service: problem+json, request ids, metrics."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, Field

from ampflux_shared.app import ServiceSpec, create_service_app
from ampflux_shared.errors import ProblemError
from ampflux_shared.settings import ServiceSettings

router = APIRouter()


class Widget(BaseModel):
    name: str = Field(min_length=1)
    size: int = Field(gt=0)


@router.post("/widgets/{widget_id}")
async def make_widget(widget_id: int, body: Widget) -> dict:
    return {"id": widget_id, **body.model_dump()}


@router.get("/conflict")
async def conflict() -> dict:
    raise ProblemError(409, "already there", slug="conflict", errors=[{"path": "name", "message": "taken"}])


@router.get("/boom")
async def boom() -> dict:
    raise RuntimeError("secret internal detail")


@pytest.fixture
async def client(tmp_path):
    settings = ServiceSettings(service_name="widgets", data_dir=tmp_path)
    app = create_service_app(ServiceSpec(title="widgets", settings=settings, routers=[router], verify_tokens=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


async def test_validation_errors_are_problem_json_naming_every_field(client):
    r = await client.post("/widgets/7", json={"name": "", "size": -1})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/validation-error")
    assert {e["path"] for e in body["errors"]} == {"name", "size"}


async def test_path_parameter_error_names_its_location(client):
    r = await client.post("/widgets/abc", json={"name": "x", "size": 1})
    assert r.status_code == 422
    assert [e["path"] for e in r.json()["errors"]] == ["path.widget_id"]


async def test_domain_problem_keeps_status_type_and_errors(client):
    r = await client.get("/conflict")
    assert r.status_code == 409
    assert r.json()["type"].endswith("/conflict")
    assert r.json()["errors"] == [{"path": "name", "message": "taken"}]


async def test_unexpected_error_is_a_500_problem_without_internals(client):
    r = await client.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "secret" not in r.text


async def test_unknown_route_is_a_404_problem(client):
    r = await client.get("/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_request_id_accepted_when_well_formed_and_replaced_when_not(client):
    good = "req-1234567890abcdef"
    r = await client.get("/health", headers={"X-Request-ID": good})
    assert r.headers["x-request-id"] == good
    r = await client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert r.headers["x-request-id"] != "bad id\nwith newline"
    assert len(r.headers["x-request-id"]) == 32


async def test_metrics_use_route_templates_and_skip_health(client):
    await client.post("/widgets/1", json={"name": "a", "size": 1})
    await client.post("/widgets/2", json={"name": "b", "size": 2})
    await client.get("/health")
    text = (await client.get("/metrics")).text
    assert 'http_route="/widgets/{widget_id}"' in text
    assert 'http_route="/widgets/1"' not in text
    assert 'http_route="/health"' not in text
    assert "http_server_active_requests" in text


async def test_ready_reports_database_when_service_has_one(tmp_path):
    from sqlalchemy import Column, Integer, Table

    from ampflux_shared.db import new_metadata

    md = new_metadata()
    Table("t", md, Column("id", Integer, primary_key=True))
    settings = ServiceSettings(service_name="withdb", data_dir=tmp_path)
    app = create_service_app(ServiceSpec(title="x", settings=settings, metadata=md, verify_tokens=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.get("/ready")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok"}
