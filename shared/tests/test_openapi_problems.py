"""OpenAPI documents the problem answers each route gives, derived from the route itself."""

from __future__ import annotations

import uuid

import httpx
from fastapi import APIRouter
from pydantic import BaseModel, Field

from ampflux_shared.app import ServiceSpec, create_service_app
from ampflux_shared.deps import SessionDep
from ampflux_shared.errors import PROBLEM_MEDIA_TYPE
from ampflux_shared.security import CurrentPrincipal, public, scoped
from ampflux_shared.settings import ServiceSettings

PROBLEM = {"$ref": "#/components/schemas/Problem"}

guarded = APIRouter(prefix="/widgets", dependencies=[scoped("projects")])
open_router = APIRouter(prefix="/open", dependencies=[public()])


class WidgetCreate(BaseModel):
    name: str = Field(min_length=1)


@guarded.get("/{widget_id}")
async def read_widget(widget_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> dict:
    return {}


@guarded.post("", responses={409: {"description": "name taken", "content": {PROBLEM_MEDIA_TYPE: {}}}})
async def create_widget(body: WidgetCreate, session: SessionDep) -> dict:
    return {}


class WidgetLink(BaseModel):
    other_id: uuid.UUID | None = None


@guarded.post("/links")
async def link_widgets(body: WidgetLink) -> dict:
    return {}


@guarded.get("")
async def list_widgets(session: SessionDep, owner_id: uuid.UUID | None = None) -> dict:
    return {}


@open_router.post("/echo")
async def echo(body: WidgetCreate) -> dict:
    return {}


@open_router.get("/settings", responses={404: {"description": "no settings yet"}})
async def read_settings() -> dict:
    return {}


@open_router.get("/ping")
async def ping() -> dict:
    return {}


def _app(tmp_path):
    settings = ServiceSettings(service_name="widgets", data_dir=tmp_path)
    return create_service_app(
        ServiceSpec(title="widgets", settings=settings, routers=[guarded, open_router], verify_tokens=False)
    )


def _statuses(doc: dict, path: str, method: str) -> set[str]:
    return {k for k in doc["paths"][path][method]["responses"] if k[0] in "45"}


def test_problem_statuses_follow_from_dependencies_and_parameters(tmp_path):
    doc = _app(tmp_path).openapi()
    # Behind the principal (scoped router), with a path id and the request's transaction.
    assert _statuses(doc, "/widgets/{widget_id}", "get") == {"401", "403", "404", "422", "503"}
    # A body: 400 (undecodable), 413 and 422; the route's own 409 stays, completed with the Problem schema.
    assert _statuses(doc, "/widgets", "post") == {"400", "401", "403", "409", "413", "422", "503"}
    conflict = doc["paths"]["/widgets"]["post"]["responses"]["409"]
    assert conflict["description"] == "name taken"
    assert conflict["content"][PROBLEM_MEDIA_TYPE]["schema"] == PROBLEM
    # An id in the body or the query may name nothing (404); only writes conflict (409).
    assert _statuses(doc, "/widgets/links", "post") == {"400", "401", "403", "404", "413", "422"}
    assert _statuses(doc, "/widgets", "get") == {"401", "403", "404", "422", "503"}
    # Public routes: no token problems; no parameters, no 422.
    assert _statuses(doc, "/open/echo", "post") == {"400", "413", "422"}
    assert _statuses(doc, "/open/ping", "get") == set()
    # A declared error without content is a problem document too.
    settings = doc["paths"]["/open/settings"]["get"]["responses"]["404"]
    assert settings == {"description": "no settings yet", "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM}}}
    # Readiness answers 503 when a dependency is down; liveness never does.
    assert _statuses(doc, "/ready", "get") == {"503"}
    assert _statuses(doc, "/health", "get") == set()


def test_every_problem_is_problem_json_with_the_rfc9457_schema(tmp_path):
    doc = _app(tmp_path).openapi()
    schemas = doc["components"]["schemas"]
    assert schemas["Problem"]["required"] == ["type", "title", "status"]
    assert schemas["Problem"]["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldError"}
    assert set(schemas["FieldError"]["properties"]) == {"path", "code", "message"}
    # FastAPI's own validation-error shape is not what we answer, so it is gone entirely.
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    for item in doc["paths"].values():
        for operation in item.values():
            for status, entry in operation["responses"].items():
                if status[0] in "45":
                    assert entry["content"] == {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM}}, (operation, status)
    assert "Retry-After" in doc["paths"]["/ready"]["get"]["responses"]["503"]["headers"]


async def test_served_document_is_the_documented_one_and_a_422_matches_it(tmp_path):
    app = _app(tmp_path)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            served = (await client.get("/openapi.json")).json()
            r = await client.post("/open/echo", json={"name": ""})
    assert "422" in served["paths"]["/open/echo"]["post"]["responses"]
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = r.json()
    problem = served["components"]["schemas"]["Problem"]
    assert set(problem["required"]) <= set(body)
    field = served["components"]["schemas"]["FieldError"]
    assert all(set(field["required"]) <= set(e) <= set(field["properties"]) for e in body["errors"])
