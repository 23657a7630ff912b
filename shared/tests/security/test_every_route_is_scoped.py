"""Every route of every service app declares its scope (`scoped`, `require_scope`) or says it
is public (`public`): a new route, or a new service, cannot forget the check."""

from __future__ import annotations

import importlib
import inspect

import pytest
from fastapi import APIRouter, FastAPI

from ampflux_shared.app import ServiceSpec, create_service_app
from ampflux_shared.security import public, require_scope, scoped, unscoped_routes
from ampflux_shared.settings import ServiceSettings

# Every service of the platform; those not written yet join the check when they appear.
SERVICES = ["auth", "project", "simulation", "traveler", "ai", "gateway"]
MUST_EXIST = {"auth", "project", "simulation", "gateway"}


def _service_apps() -> dict[str, FastAPI]:
    apps = {}
    for name in SERVICES:
        try:
            main = importlib.import_module(f"ampflux_{name}.main")
            config = importlib.import_module(f"ampflux_{name}.config")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"ampflux_{name}"):
                continue
            raise
        settings = config.Settings(_env_file=None)
        apps[name] = main.create_app(settings)
    return apps


def test_every_route_of_every_service_declares_a_scope():
    apps = _service_apps()
    assert set(apps) >= MUST_EXIST
    missing = {name: unscoped_routes(app) for name, app in apps.items()}
    assert missing == {name: [] for name in apps}


def test_the_check_notices_a_route_without_a_scope():
    scoped_router = APIRouter(prefix="/things", dependencies=[scoped("projects")])
    admin_router = APIRouter(prefix="/admin", dependencies=[require_scope("users:admin")])
    open_router = APIRouter(prefix="/open", dependencies=[public()])
    bare_router = APIRouter(prefix="/bare")
    for router in (scoped_router, admin_router, open_router, bare_router):

        @router.post("/{thing_id}")
        async def change(thing_id: int) -> dict:
            return {}

        @router.get("")
        async def read() -> list:
            return []

    app = create_service_app(
        ServiceSpec(
            title="t",
            settings=ServiceSettings(_env_file=None),
            routers=[scoped_router, admin_router, open_router, bare_router],
            verify_tokens=False,
        )
    )
    assert unscoped_routes(app) == ["POST /bare/{thing_id}", "GET /bare"]


def test_unknown_resources_and_scopes_are_refused_when_the_router_is_built():
    with pytest.raises(ValueError):
        scoped("widgets")
    with pytest.raises(ValueError):
        require_scope("projects:everything")


def test_every_service_create_app_takes_its_settings_first():
    # The check above builds each app from its own Settings; keep that call working.
    for name, app in _service_apps().items():
        main = importlib.import_module(f"ampflux_{name}.main")
        first = next(iter(inspect.signature(main.create_app).parameters))
        assert first == "settings", name
        assert isinstance(app, FastAPI)
