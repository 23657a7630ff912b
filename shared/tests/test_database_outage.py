"""A database outage is a 503 with `Retry-After`, not a 500 (issue 9, finding 11); an
unexpected 500 closes the connection.

The database is real PostgreSQL reached through a TCP proxy the test cuts, as a network
partition or a restarting server looks to the service; the server itself is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlparse, urlunparse

import httpx
import pytest
import uvicorn
from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ampflux_shared.app import ServiceSpec, create_service_app
from ampflux_shared.db import new_metadata
from ampflux_shared.deps import SessionDep
from ampflux_shared.errors import DATABASE_RETRY_AFTER_S
from ampflux_shared.settings import ServiceSettings
from ampflux_testing.polling import eventually
from ampflux_testing.tcp_proxy import TcpProxy

PROBLEM = "application/problem+json"


class Base(DeclarativeBase):
    metadata = new_metadata()


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]


router = APIRouter()


@router.post("/notes")
async def add_note(session: SessionDep) -> dict:
    session.add(Note(text="n"))
    await session.flush()
    return {"ok": True}


@router.get("/notes")
async def count_notes(session: SessionDep) -> dict:
    return {"count": len((await session.scalars(select(Note.id))).all())}


@router.get("/boom")
async def boom() -> dict:
    raise RuntimeError("a bug")


def _through(proxy: TcpProxy, url: str) -> str:
    parsed = urlparse(url)
    netloc = f"{parsed.username or 'postgres'}@{proxy.host}:{proxy.port}"
    return urlunparse(parsed._replace(netloc=netloc))


@pytest.mark.postgres
async def test_a_database_outage_is_a_503_with_retry_after_and_the_service_recovers(tmp_path, postgres_url):
    target = urlparse(postgres_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.open()
    settings = ServiceSettings(
        service_name="notes", data_dir=tmp_path, database_url=_through(proxy, postgres_url), migrate_on_start=False
    )
    app = create_service_app(
        ServiceSpec(title="notes", settings=settings, routers=[router], metadata=Base.metadata, verify_tokens=False)
    )
    try:
        async with app.router.lifespan_context(app):
            async with app.state.db.engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.post("/notes")).status_code == 200

                await proxy.close()  # pooled connections aborted, new ones refused
                for method in ("GET", "POST"):
                    r = await client.request(method, "/notes")
                    assert r.status_code == 503, r.text
                    assert r.headers["content-type"] == PROBLEM
                    assert r.headers["retry-after"] == str(DATABASE_RETRY_AFTER_S)
                    assert r.json()["type"].endswith("/database-unavailable")
                    assert "connection" not in r.headers  # the process is fine: keep the connection

                await proxy.open()
                assert (await client.post("/notes")).status_code == 200
                assert (await client.get("/notes")).json() == {"count": 2}
    finally:
        await proxy.close()


async def test_an_unexpected_500_closes_the_connection(tmp_path, unused_tcp_port):
    """Through a real uvicorn server: the 500 says `Connection: close` and the server closes
    the socket after it, so no client or gateway reuses a connection to a process in a bad state."""
    settings = ServiceSettings(service_name="boom", data_dir=tmp_path)
    app = create_service_app(ServiceSpec(title="boom", settings=settings, routers=[router], verify_tokens=False))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=unused_tcp_port, log_config=None))
    serving = asyncio.create_task(server.serve())
    try:
        # uvicorn offers a flag, not an event.
        await eventually(lambda: server.started, timeout=30, what="uvicorn to start")
        reader, writer = await asyncio.open_connection("127.0.0.1", unused_tcp_port)
        writer.write(b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n")
        await writer.drain()
        # Reading to EOF ends only because the server closed the connection (a keep-alive one
        # would stay open for uvicorn's 5 s and time this out).
        raw = await asyncio.wait_for(reader.read(), timeout=3)
        writer.close()
        head = raw.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 500")
        assert b"\r\nconnection: close" in head
        assert b"content-type: application/problem+json" in head

        # An ordinary answer keeps the connection open.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{unused_tcp_port}") as client:
            ok = await client.get("/health")
            assert ok.status_code == 200 and "connection" not in ok.headers
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
