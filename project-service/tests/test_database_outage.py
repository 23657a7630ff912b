"""A real service meets a database outage (issue 9 finding 11): reads and writes answer 503
problem+json with `Retry-After` while PostgreSQL is unreachable, and work again once it is
back. PostgreSQL is reached through a TCP proxy the test cuts; the server is never touched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest

from ampflux_project.config import Settings
from ampflux_shared.errors import DATABASE_RETRY_AFTER_S
from ampflux_testing.tcp_proxy import TcpProxy


@pytest.fixture
async def database_proxy(reusable_postgres_database) -> AsyncIterator[tuple[TcpProxy, str]]:
    url = reusable_postgres_database("project")
    target = urlparse(url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.open()
    try:
        netloc = f"{target.username or 'postgres'}@{proxy.host}:{proxy.port}"
        yield proxy, urlunparse(target._replace(netloc=netloc))
    finally:
        await proxy.close()


@pytest.fixture
def settings(database_proxy, tmp_path: Path) -> Settings:
    """The conftest's settings, with the database behind the proxy (the `client` uses them)."""
    return Settings(database_url=database_proxy[1], amqp_url="", data_dir=tmp_path)


async def test_the_project_service_answers_503_with_retry_after_while_its_database_is_away(
    client, company, database_proxy
):
    proxy, _ = database_proxy
    owner = company.user("engineer")
    assert (await client.post("/projects/", json={"name": "Before"}, headers=owner.headers)).status_code == 201

    await proxy.close()
    for method, body in (("GET", None), ("POST", {"name": "During"})):
        r = await client.request(method, "/projects/", json=body, headers=owner.headers)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == str(DATABASE_RETRY_AFTER_S)
        assert r.json()["type"].endswith("/database-unavailable")

    await proxy.open()
    assert (await client.post("/projects/", json={"name": "After"}, headers=owner.headers)).status_code == 201
    listed = (await client.get("/projects/", headers=owner.headers)).json()
    assert sorted(p["name"] for p in listed["items"]) == ["After", "Before"]
