"""Fixtures for the simulation service tests: tokens, reference circuits, the in-process API.

Every in-process API comes with the real project service, in-process too (SQLite in the
test's directory, same token verifier), as a test peer: runs belong to projects, and only
whoever may see a project in the project service may submit or read its runs. `Api.submit`
creates a project (owned by the API's engineer) unless it is given one.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ampflux_project.config import Settings as ProjectSettings
from ampflux_simulation.config import Settings
from ampflux_testing.circuits import CASES_DIR
from ampflux_testing.polling import eventually
from ampflux_testing.tokens import TestSigner

REPO_ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"succeeded", "failed", "cancelled"}


class TestAuth(TestSigner):
    """The shared test signer, with the company-first token helpers these tests call."""

    def __init__(self) -> None:
        super().__init__(kid="test-key")

    def token(
        self,
        company_id: uuid.UUID,
        user_id: uuid.UUID | None = None,
        roles: tuple[str, ...] = ("engineer",),
        scopes: tuple[str, ...] | None = None,
    ) -> str:
        """A user's token; with `scopes`, one minted for an API key with those scopes."""
        return self.sign(user_id or uuid.uuid4(), company_id, roles, ttl_s=600, scopes=scopes)

    def headers(self, company_id: uuid.UUID, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(company_id, **kw)}"}


@pytest.fixture(scope="session")
def auth() -> TestAuth:
    return TestAuth()


def load_case(name: str) -> dict[str, Any]:
    return json.loads((CASES_DIR / f"{name}.json").read_text())


def case_names() -> list[str]:
    return sorted(p.stem for p in CASES_DIR.glob("*.json"))


def without_expected(document: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(document)
    doc.pop("expected", None)
    return doc


def generated_network(n_buses: int, *, doc_id: str = "generated") -> dict[str, Any]:
    """A radial 20 kV feeder of `n_buses` buses from one utility source (big solves on demand)."""
    buses = [{"id": f"B{i}", "vn_kv": 20.0} for i in range(n_buses)]
    lines = [
        {
            "id": f"L{i}",
            "from_bus": f"B{(i - 1) // 2}",
            "to_bus": f"B{i}",
            "length_km": 0.5,
            "r_ohm_per_km": 0.16,
            "x_ohm_per_km": 0.11,
        }
        for i in range(1, n_buses)
    ]
    return {
        "format": "circuit-document",
        "version": 1,
        "id": doc_id,
        "study": {"frequency_hz": 50, "faults": ["3ph", "2ph"], "cases": ["max"]},
        "buses": buses,
        "ext_grids": [{"id": "G", "bus": "B0", "s_sc_max_mva": 500.0, "rx_max": 0.1}],
        "lines": lines,
    }


def study_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        environment="test",
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'simulation.db'}",
        amqp_url="",
        jobs_queue=f"simulation.jobs.test.{uuid.uuid4().hex[:8]}",
        events_poll_s=0.05,
        metrics_refresh_s=0.2,
        cancel_poll_s=0.1,
        project_url="http://project.invalid",
    )
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    app: FastAPI
    client: httpx.AsyncClient
    auth: TestAuth
    company_id: uuid.UUID
    user_id: uuid.UUID
    # The in-process project service (None when the API was started without one).
    project: httpx.AsyncClient | None = None

    @property
    def headers(self) -> dict[str, str]:
        return self.auth.headers(self.company_id, user_id=self.user_id)

    def colleague(self, *, roles: tuple[str, ...] = ("engineer",), user_id: uuid.UUID | None = None) -> dict[str, str]:
        """Headers of another user of the same company (a member of no project unless added)."""
        return self.auth.headers(self.company_id, user_id=user_id or uuid.uuid4(), roles=roles)

    async def new_project(self, headers: dict[str, str] | None = None) -> uuid.UUID:
        """A project in the project service; the caller (default: this API's engineer) owns it."""
        assert self.project is not None, "this API runs without a project service"
        created = await self.project.post(
            "/projects/", json={"name": f"substation {uuid.uuid4().hex[:6]}"}, headers=headers or self.headers
        )
        assert created.status_code == 201, created.text
        return uuid.UUID(created.json()["id"])

    async def add_member(self, project_id: uuid.UUID, user_id: uuid.UUID, role: str = "viewer") -> None:
        assert self.project is not None, "this API runs without a project service"
        added = await self.project.post(
            f"/projects/{project_id}/members/", json={"user_id": str(user_id), "role": role}, headers=self.headers
        )
        assert added.status_code == 201, added.text

    async def submit(
        self,
        document: dict[str, Any],
        *,
        project_id: uuid.UUID | None = None,
        options: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        if project_id is None:
            project_id = await self.new_project()
        body: dict[str, Any] = {"project_id": str(project_id), "document": document}
        if options:
            body["options"] = options
        return await self.client.post("/simulations", json=body, headers={**self.headers, **(headers or {})})

    async def wait(self, run_id: str, statuses: set[str] = TERMINAL, timeout: float = 60.0) -> dict[str, Any]:
        # The outer bound also catches a request that itself never returns.
        async with asyncio.timeout(timeout + 10):
            return await self._wait(run_id, statuses, timeout)

    async def _wait(self, run_id: str, statuses: set[str], timeout: float) -> dict[str, Any]:
        seen: list[dict[str, Any]] = []

        async def reached() -> dict[str, Any] | None:
            response = await self.client.get(f"/simulations/{run_id}", headers=self.headers)
            assert response.status_code == 200, response.text
            seen.append(response.json())
            return seen[-1] if seen[-1]["status"] in statuses else None

        return await eventually(
            reached, timeout=timeout, what=lambda: f"run {run_id} to leave {seen[-1]['status']} for {sorted(statuses)}"
        )

    async def all_results(self, run_id: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            response = await self.client.get(
                f"/simulations/{run_id}/results",
                params={**params, "page": page, "page_size": 100},
                headers=self.headers,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            items += body["items"]
            if len(items) >= body["total"]:
                return items
            page += 1


@asynccontextmanager
async def project_service(data_dir: Path, auth: TestAuth) -> AsyncIterator[httpx.AsyncClient]:
    """The real project service in-process (SQLite under `data_dir`), trusting the same tokens.
    The client carries the app as `.app`."""
    settings = ProjectSettings(
        environment="test",
        data_dir=data_dir / "project",
        database_url=f"sqlite+aiosqlite:///{data_dir / 'project.db'}",
        amqp_url="",
    )
    from ampflux_project.main import create_app as create_project_app  # see running_api

    app = create_project_app(settings, verifier=auth.verifier())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://project") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@asynccontextmanager
async def running_api(
    settings: Settings, auth: TestAuth, *, with_project_service: bool = True, **app_kw: Any
) -> AsyncIterator[Api]:
    """The service in-process, lifespan and all, with a client for one company's engineer and
    (unless `with_project_service=False`) the real project service in-process as its peer."""
    # Imported here, not at the top: the xdist controller loads every conftest and runs no test.
    from ampflux_simulation.main import create_app

    async with contextlib.AsyncExitStack() as stack:
        project = None
        if with_project_service:
            project = await stack.enter_async_context(project_service(Path(settings.data_dir), auth))
            app_kw.setdefault("project_transport", httpx.ASGITransport(app=project.app))  # type: ignore[attr-defined]
        app = create_app(settings, verifier=auth.verifier(), **app_kw)
        await stack.enter_async_context(app.router.lifespan_context(app))
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://simulation"))
        yield Api(app, client, auth, company_id=uuid.uuid4(), user_id=uuid.uuid4(), project=project)


@pytest.fixture
async def api(tmp_path: Path, auth: TestAuth) -> AsyncIterator[Api]:
    async with running_api(study_settings(tmp_path), auth) as running:
        yield running


@pytest.fixture(params=case_names())
def reference_case(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each reference circuit in tests/data/circuits, with its `expected` results."""
    return load_case(request.param)


class Helpers:
    """Factories the test modules use (importlib mode: they cannot import this file)."""

    load_case = staticmethod(load_case)
    without_expected = staticmethod(without_expected)
    generated_network = staticmethod(generated_network)
    study_settings = staticmethod(study_settings)
    running_api = staticmethod(running_api)
    project_service = staticmethod(project_service)


@pytest.fixture(scope="session")
def helpers() -> type[Helpers]:
    return Helpers
