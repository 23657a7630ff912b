"""A value PostgreSQL refuses (NUL in text, an integer past the column) is the client's: a 422
naming the column, never a 500. Both were found by schemathesis through the gateway."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ampflux_shared.app import ServiceSpec, create_service_app
from ampflux_shared.db import JSONDocument, new_metadata
from ampflux_shared.deps import SessionDep
from ampflux_shared.settings import ServiceSettings


class Base(DeclarativeBase):
    metadata = new_metadata()


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    details: Mapped[dict] = mapped_column(JSONDocument, default=dict)


class CompanyCreate(BaseModel):
    name: str
    details: dict = {}


router = APIRouter()


@router.post("/companies")
async def create_company(body: CompanyCreate, session: SessionDep) -> dict:
    session.add(Company(name=body.name, details=body.details))
    await session.flush()
    return {"ok": True}


@router.get("/companies/{company_id}")
async def read_company(company_id: int, session: SessionDep) -> dict:
    found = (await session.execute(select(Company.id).where(Company.id == company_id))).scalar()
    return {"found": found is not None}


@pytest.fixture
async def client(tmp_path, postgres_url):
    settings = ServiceSettings(
        service_name="companies", data_dir=tmp_path, database_url=postgres_url, migrate_on_start=False
    )
    app = create_service_app(
        ServiceSpec(title="companies", settings=settings, routers=[router], metadata=Base.metadata, verify_tokens=False)
    )
    async with app.router.lifespan_context(app):
        async with app.state.db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


@pytest.mark.postgres
async def test_nul_in_text_is_a_422_naming_the_column(client):
    r = await client.post("/companies", json={"name": "\x00w"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [
        {"path": "name", "code": "nul_character", "message": "text may not contain NUL (U+0000) characters"}
    ]
    # Nested in a JSON document (JSONB refuses the escaped \u0000) too.
    r = await client.post("/companies", json={"name": "ok", "details": {"steps": [{"x": "a\x00"}]}})
    assert r.status_code == 422, r.text
    assert [e["path"] for e in r.json()["errors"]] == ["details"]
    # And the session is usable again afterwards: the next good request succeeds.
    assert (await client.post("/companies", json={"name": "Volta"})).status_code == 200


@pytest.mark.postgres
async def test_an_integer_past_the_column_is_a_422_not_an_overflow(client):
    r = await client.get("/companies/9974966446156334")
    assert r.status_code == 422, r.text
    body = r.json()
    assert "out of range" in body["detail"]
    assert body["errors"] == [{"path": "id", "code": "out_of_range", "message": "number out of range"}]
