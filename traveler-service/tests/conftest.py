"""Fixtures for the traveler service: an app on a fresh PostgreSQL database, test tokens.

Tokens are signed with a throw-away Ed25519 key the app's verifier trusts, so tests act as
any user of any company without an auth service.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ampflux_shared.security import JWKSVerifier
from ampflux_testing.identities import Company, User
from ampflux_testing.tokens import TestSigner
from ampflux_traveler.config import Settings

SIGNER = TestSigner(kid="traveler-tests")
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
    return Company(SIGNER, ("viewer",))


@pytest.fixture
def other_company() -> Company:
    return Company(SIGNER, ("viewer",))


@pytest.fixture
def settings(reusable_postgres_database, tmp_path: Path) -> Settings:
    # One migrated database for the session, emptied for each test (root conftest).
    return Settings(database_url=reusable_postgres_database("traveler"), amqp_url="", data_dir=tmp_path)


async def running_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # Imported here, not at the top: the xdist controller loads every conftest and runs no test.
    from ampflux_traveler.main import create_app

    app = create_app(settings, verifier=make_verifier())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://traveler") as client:
            client.app = app  # type: ignore[attr-defined]  # tests peek at app.state
            yield client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for c in running_client(settings):
        yield c


# --- factories --------------------------------------------------------------------------
# Test modules cannot import this conftest (importlib mode), so the factories reach them
# through the `api` fixture.


@dataclass
class Shop:
    """One company's staff: a user per role."""

    company: Company
    admin: User
    manager: User
    engineer: User
    purchasing: User
    operator: User
    assembly: User
    quality: User
    viewer: User


def make_shop(company: Company) -> Shop:
    return Shop(
        company,
        **{
            role: company.user(role)
            for role in ("admin", "manager", "engineer", "purchasing", "operator", "assembly", "quality", "viewer")
        },
    )


class Api:
    """The user's actions as one-liners, asserting each succeeded."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def ok(self, method: str, url: str, user: User, expect: int = 200, **kw: Any) -> Any:
        r = await self.client.request(method, url, headers=user.headers, **kw)
        assert r.status_code == expect, f"{method} {url}: {r.status_code} {r.text}"
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r

    async def purchase_order(
        self, user: User, *, quantity: int = 4, part: str = "PCB-100", due: str | None = None
    ) -> dict:
        body = {
            "number": f"PO-{uuid.uuid4().hex[:8]}",
            "customer": "Acme Instruments",
            "due_date": due,
            "lines": [{"part_number": part, "revision": "B", "quantity": quantity}],
        }
        return await self.ok("POST", "/purchase-orders/", user, 201, json=body)

    async def traveler(self, user: User, *, traveler_type: str = "PCB", quantity: int = 4, **extra: Any) -> dict:
        body = {"traveler_type": traveler_type, "part_number": "PCB-100", "quantity": quantity, **extra}
        return await self.ok("POST", "/travelers/", user, 201, json=body)

    async def set_routing(self, user: User, traveler_type: str, steps: list[tuple[str, float, str]]) -> dict:
        body = {"steps": [{"name": n, "standard_minutes": m, "signoff_role": r} for n, m, r in steps]}
        return await self.ok("PUT", f"/travelers/types/{traveler_type}", user, json=body)

    async def status(self, traveler: dict, user: User, status: str, reason: str = "") -> httpx.Response:
        return await self.client.post(
            f"/travelers/{traveler['id']}/status", json={"status": status, "reason": reason}, headers=user.headers
        )

    async def release(self, traveler: dict, user: User) -> dict:
        r = await self.status(traveler, user, "released")
        assert r.status_code == 200, r.text
        return r.json()

    async def start(self, traveler: dict, step: dict, user: User, **body: Any) -> dict:
        return await self.ok("POST", f"/travelers/{traveler['id']}/steps/{step['id']}/start", user, 201, json=body)

    async def complete(self, traveler: dict, step: dict, user: User, **body: Any) -> httpx.Response:
        return await self.client.post(
            f"/travelers/{traveler['id']}/steps/{step['id']}/complete", json=body, headers=user.headers
        )

    async def read(self, traveler: dict, user: User) -> dict:
        return await self.ok("GET", f"/travelers/{traveler['id']}", user)


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture
def shop(company: Company) -> Shop:
    return make_shop(company)


@pytest.fixture
def other_shop(other_company: Company) -> Shop:
    return make_shop(other_company)


@pytest.fixture
def api_for():
    """Api helpers on a client of the test's choosing (e.g. one on SQLite)."""
    return Api


@pytest.fixture
def client_factory():
    """`running_client(settings)`: an app client for settings the test prepared."""
    return running_client
