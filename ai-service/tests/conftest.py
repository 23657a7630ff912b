"""Fixtures for the AI service: the app on a fresh PostgreSQL database, test tokens, and the
local OpenAI-compatible provider (ampflux_testing.fake_provider) it talks to.

Tokens are signed with a throw-away Ed25519 key the app's verifier trusts, so tests act as
any user of any company without an auth service.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ampflux_ai.config import Settings
from ampflux_shared.security import JWKSVerifier
from ampflux_testing.fake_provider import FakeProvider, Reply
from ampflux_testing.identities import Company, User
from ampflux_testing.sse import parse_sse
from ampflux_testing.tokens import TestSigner

SIGNER = TestSigner(kid="ai-tests")
KEK = "k1:" + base64.b64encode(os.urandom(32)).decode()


def sign_token(
    user_id: uuid.UUID, company_id: uuid.UUID, roles: list[str], ttl_s: int = 600, scopes: list[str] | None = None
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


@pytest.fixture(scope="session")
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(provider: FakeProvider) -> FakeProvider:
    """The provider with an empty script and record for this test."""
    provider._script.clear()
    provider.requests.clear()
    provider.auth_headers.clear()
    return provider


@pytest.fixture
def settings(reusable_postgres_database, tmp_path: Path, fake: FakeProvider) -> Settings:
    return Settings(
        database_url=reusable_postgres_database("ai"),
        amqp_url="",
        data_dir=tmp_path,
        provider_base_url=fake.url,
        provider_api_key="sk-operator-test",
        model=fake.model,
        provider_timeout_s=5,
        provider_retries=0,
        key_encryption_keys=KEK,
        stream_keep_s=60,
    )


async def running_client(settings: Settings, **state: Any) -> AsyncIterator[httpx.AsyncClient]:
    # Imported here, not at the top: the xdist controller loads every conftest and runs no test.
    from ampflux_ai.main import create_app

    app = create_app(settings, verifier=make_verifier())
    for k, v in state.items():
        setattr(app.state, k, v)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ai", timeout=30) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for c in running_client(settings):
        yield c


class Helpers:
    Reply = Reply
    parse_sse = staticmethod(parse_sse)

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def conversation(self, user: User, title: str = "") -> dict[str, Any]:
        r = await self.client.post("/ai/conversations", json={"title": title}, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def send(
        self, user: User, conversation: dict[str, Any], text: str, *, stream: bool = False
    ) -> httpx.Response:
        headers = {**user.headers, **({"Accept": "text/event-stream"} if stream else {})}
        return await self.client.post(
            f"/ai/conversations/{conversation['id']}/messages", json={"content": text}, headers=headers
        )


@pytest.fixture
def h(client: httpx.AsyncClient) -> Helpers:
    return Helpers(client)


@pytest.fixture
def app_client():
    """Factory for a client of an app with other settings: `async for c in app_client(settings)`.
    (Test modules cannot import this conftest: importlib mode gives them another copy.)"""
    return running_client


@pytest.fixture
def make_app():
    """The app with the test verifier (for Starlette's TestClient: WebSockets)."""
    from ampflux_ai.main import create_app

    return lambda settings: create_app(settings, verifier=make_verifier())
