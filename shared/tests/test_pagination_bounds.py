"""A huge page number is a 422 naming the bound, never a database integer overflow (500):
the shared list contract bounds `page` and `page_size` so their product fits a BIGINT. And the
one `paginate` serves queries of one entity and of several."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from sqlalchemy import Integer, String, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ampflux_shared.app import ServiceSpec, create_service_app
from ampflux_shared.pagination import MAX_PAGE, MAX_PAGE_SIZE, PageDep, PageParams, paginate
from ampflux_shared.settings import ServiceSettings

router = APIRouter()


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "things"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String)


@router.get("/things")
async def things(paging: PageDep) -> dict:
    return {"offset": paging.offset}


@pytest.fixture
async def client():
    app = create_service_app(
        ServiceSpec(title="t", settings=ServiceSettings(_env_file=None), routers=[router], verify_tokens=False)
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"page": 10**30}, "query.page"),
        ({"page": MAX_PAGE + 1}, "query.page"),
        ({"page_size": 10**30}, "query.page_size"),
        ({"page": 0}, "query.page"),
    ],
)
async def test_out_of_range_paging_is_422_naming_the_parameter(client, params, path):
    r = await client.get("/things", params=params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert [e["path"] for e in r.json()["errors"]] == [path]


async def test_the_largest_page_still_fits_a_database_integer(client):
    r = await client.get("/things", params={"page": MAX_PAGE, "page_size": MAX_PAGE_SIZE})
    assert r.status_code == 200
    assert r.json()["offset"] < 2**63 - 1


async def test_paginate_gives_objects_or_tuples_as_the_query_selects(tmp_path):
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine) as session:
        session.add_all([Thing(id=i, name=f"t{i}") for i in range(1, 6)])
        await session.commit()
        one = await paginate(session, select(Thing).order_by(Thing.id), PageParams(page=2, page_size=2))
        assert [t.name for t in one.items] == ["t3", "t4"] and one.total == 5
        pairs = await paginate(session, select(Thing, literal("x")).order_by(Thing.id), PageParams(page=3, page_size=2))
        assert [(t.name, x) for t, x in pairs.items] == [("t5", "x")] and pairs.total == 5
    await engine.dispose()
