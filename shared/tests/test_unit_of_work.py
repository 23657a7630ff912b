"""The request owns the transaction, and it is committed before the response goes out."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ampflux_shared.app import ServiceSpec, create_service_app
from ampflux_shared.db import UTCDateTime, new_metadata, utcnow
from ampflux_shared.deps import SessionDep
from ampflux_shared.settings import ServiceSettings


class Base(DeclarativeBase):
    metadata = new_metadata()


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


router = APIRouter()


@router.post("/notes/{note_id}")
async def add_note(note_id: int, session: SessionDep) -> dict:
    # No flush here: a duplicate id fails only when the unit of work commits.
    session.add(Note(id=note_id))
    return {"saved": note_id}


@router.get("/notes/{note_id}")
async def read_note(note_id: int, session: SessionDep) -> dict:
    note = await session.get(Note, note_id)
    return {"found": note is not None, "aware": note is not None and note.at.tzinfo is not None}


@router.post("/notes/{note_id}/fail")
async def add_then_fail(note_id: int, session: SessionDep) -> dict:
    session.add(Note(id=note_id))
    await session.flush()
    raise RuntimeError("the handler failed after writing")


@pytest.fixture
async def client(tmp_path):
    settings = ServiceSettings(service_name="notes", data_dir=tmp_path, migrate_on_start=False)
    app = create_service_app(
        ServiceSpec(title="notes", settings=settings, routers=[router], metadata=Base.metadata, verify_tokens=False)
    )
    async with app.router.lifespan_context(app):
        async with app.state.db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            c.app = app  # type: ignore[attr-defined]
            yield c


async def test_a_commit_failure_is_an_error_response_not_a_lost_write(client):
    assert (await client.post("/notes/1")).status_code == 200
    r = await client.post("/notes/1")
    assert r.status_code == 500, "the duplicate is refused at commit, before any success is sent"
    assert r.headers["content-type"] == "application/problem+json"


async def test_what_was_answered_is_already_committed(client):
    assert (await client.post("/notes/2")).status_code == 200
    async with client.app.state.db.sessionmaker() as other:  # type: ignore[attr-defined]
        assert (await other.execute(select(Note.id).where(Note.id == 2))).scalar() == 2


async def test_a_failing_handler_leaves_nothing_behind(client):
    assert (await client.post("/notes/3/fail")).status_code == 500
    assert (await client.get("/notes/3")).json() == {"found": False, "aware": False}


async def test_datetimes_come_back_aware_from_sqlite(client):
    await client.post("/notes/4")
    assert (await client.get("/notes/4")).json() == {"found": True, "aware": True}
