"""Fixtures for the project service: an app on a fresh PostgreSQL database, test tokens.

Tokens are signed with a throw-away Ed25519 key the app's verifier trusts, so tests act as
any user of any company without an auth service.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ampflux_project.config import Settings
from ampflux_shared.security import JWKSVerifier
from ampflux_testing.circuits import CASES_DIR
from ampflux_testing.identities import Company, User
from ampflux_testing.tokens import TestSigner

SIGNER = TestSigner(kid="project-tests")
REPO_ROOT = Path(__file__).resolve().parents[2]


def sign_token(
    user_id: uuid.UUID, company_id: uuid.UUID, roles: list[str], ttl_s: int = 300, scopes: list[str] | None = None
) -> str:
    """A user's token; with `scopes`, one minted for an API key with those scopes."""
    return SIGNER.sign(user_id, company_id, roles, ttl_s=ttl_s, scopes=scopes)


def make_verifier() -> JWKSVerifier:
    return SIGNER.verifier()


@pytest.fixture
def company() -> Company:
    return Company(SIGNER, ("engineer",))


@pytest.fixture
def other_company() -> Company:
    return Company(SIGNER, ("engineer",))


@pytest.fixture
def settings(reusable_postgres_database, tmp_path: Path) -> Settings:
    # One migrated database for the session, emptied for each test (root conftest).
    database_url = reusable_postgres_database("project")
    return Settings(database_url=database_url, amqp_url="", data_dir=tmp_path)


async def running_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # Imported here, not at the top: the xdist controller loads every conftest and runs no test.
    from ampflux_project.main import create_app

    app = create_app(settings, verifier=make_verifier())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://project") as client:
            client.app = app  # type: ignore[attr-defined]  # tests peek at app.state
            yield client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for c in running_client(settings):
        yield c


# --- factories --------------------------------------------------------------------------
# Test modules cannot import this conftest (importlib mode), so the factories reach them
# through the `api` fixture.


def load_case(name: str) -> dict[str, Any]:
    """A reference circuit from tests/data/circuits."""
    return json.loads((CASES_DIR / name).read_text())


def tiny_circuit(**over: Any) -> dict[str, Any]:
    doc = {
        "format": "circuit-document",
        "version": 1,
        "id": "tiny",
        "study": {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"]},
        "buses": [{"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 0.4}],
        "ext_grids": [{"id": "G", "bus": "MV", "s_sc_max_mva": 400.0, "rx_max": 0.1}],
        "transformers": [
            {
                "id": "T",
                "hv_bus": "MV",
                "lv_bus": "LV",
                "sn_mva": 0.63,
                "vn_hv_kv": 20.0,
                "vn_lv_kv": 0.4,
                "vk_percent": 6.0,
                "vkr_percent": 1.206,
            }
        ],
    }
    doc.update(over)
    return doc


class Api:
    """The user's actions as one-liners, asserting each succeeded."""

    load_case = staticmethod(load_case)
    tiny_circuit = staticmethod(tiny_circuit)
    cases_dir = CASES_DIR

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def create_project(self, owner: User, name: str | None = None, **extra: Any) -> dict:
        body = {"name": name or f"Plant {uuid.uuid4().hex[:6]}", **extra}
        r = await self.client.post("/projects/", json=body, headers=owner.headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def add_member(self, project: dict, owner: User, user: User, role: str) -> dict:
        r = await self.client.post(
            f"/projects/{project['id']}/members/", json={"user_id": str(user.id), "role": role}, headers=owner.headers
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def create_circuit(
        self, project: dict, user: User, document: dict | None = None, name: str = "Main board"
    ) -> dict:
        body: dict[str, Any] = {"name": name}
        if document is not None:
            body["document"] = document
        r = await self.client.post(f"/projects/{project['id']}/circuits/", json=body, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def save(self, project: dict, circuit: dict, user: User, document: dict, message: str = "") -> httpx.Response:
        return await self.client.post(
            f"/projects/{project['id']}/circuits/{circuit['id']}/versions",
            json={"document": document, "message": message},
            headers=user.headers,
        )


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture
def api_for():
    """Api helpers on a client of the test's choosing (e.g. one running on RabbitMQ)."""
    return Api


@pytest.fixture
def client_factory():
    """`running_client(settings)`: an app client for settings the test prepared."""
    return running_client
