"""Fixtures for the auth service: the app in-process, on real PostgreSQL or on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ampflux_auth.config import Settings

PASSWORD = "correct horse battery"

# Cheap argon2 parameters: the tests exercise the logic, not the cost.
FAST_HASHING = dict(argon2_memory_kib=1024, argon2_time_cost=1, argon2_parallelism=1)


def make_settings(database_url: str, tmp_path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        database_url=database_url,
        data_dir=tmp_path,
        environment="test",
        signing_key_cache_s=0,
        jwks_min_refetch_s=0,
        **FAST_HASHING,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


def bearer(tokens_or_token: dict | str) -> dict[str, str]:
    token = tokens_or_token["access_token"] if isinstance(tokens_or_token, dict) else tokens_or_token
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Service:
    """A running app and a client, with the steps the tests' stories are made of.

    (Helpers live here rather than in importable modules: tests run in importlib mode.)
    """

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    password: str = PASSWORD

    bearer = staticmethod(bearer)

    async def register(
        self, email: str = "ada@example.com", company: str = "Analytical Engines", name: str = "Ada"
    ) -> dict:
        r = await self.client.post(
            "/auth/register", json={"name": name, "email": email, "password": PASSWORD, "company_name": company}
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def login(self, email: str = "ada@example.com", password: str = PASSWORD) -> dict:
        r = await self.client.post("/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()

    async def create_user(self, admin_tokens: dict, email: str, roles: list[str]) -> dict:
        r = await self.client.post(
            "/auth/users",
            json={"name": email.split("@")[0], "email": email, "password": PASSWORD, "roles": roles},
            headers=bearer(admin_tokens),
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def outbox(self) -> list[dict]:
        """Every event written to the outbox, oldest first."""
        from sqlalchemy import select

        from ampflux_auth.models import event_tables

        t = event_tables.outbox
        async with self.app.state.db.session() as session:
            rows = (await session.execute(select(t.c.type, t.c.payload, t.c.envelope).order_by(t.c.created_at))).all()
        return [{"type": r.type, "payload": r.payload, "envelope": r.envelope} for r in rows]


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Service]:
    # Imported here, not at the top: the xdist controller loads every conftest and runs no test.
    from ampflux_auth.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.7", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://auth.test") as client:
            yield Service(app=app, client=client, settings=settings)


@pytest.fixture
def service_factory(tmp_path):
    """`async with service_factory(url, **settings) as svc:` for tests that need their own settings."""

    def factory(database_url: str, **overrides: Any):
        return running(make_settings(database_url, tmp_path, **overrides))

    return factory


@pytest.fixture
async def pg(reusable_postgres_database, tmp_path) -> AsyncIterator[Service]:
    # One migrated database for the session, emptied for each test (root conftest).
    async with running(make_settings(reusable_postgres_database("auth"), tmp_path)) as svc:
        yield svc


@pytest.fixture
async def lite(tmp_path) -> AsyncIterator[Service]:
    async with running(make_settings(f"sqlite:///{tmp_path / 'auth.db'}", tmp_path)) as svc:
        yield svc
