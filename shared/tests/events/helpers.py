"""Small test helpers: the schema the event tests use (and `eventually`, the shared poll)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import Database, new_metadata
from ampflux_shared.events import ProjectCreated, make_event
from ampflux_shared.events.envelope import EventEnvelope
from ampflux_shared.events.tables import EventTables
from ampflux_testing.polling import eventually as eventually  # the event tests reach it as h.eventually


@dataclass
class EventSchema:
    metadata: MetaData
    tables: EventTables
    counters: Table


def make_schema() -> EventSchema:
    metadata = new_metadata()
    tables = EventTables(metadata)
    counters = Table(
        "counters",
        metadata,
        Column("name", String(50), primary_key=True),
        Column("value", Integer, nullable=False),
    )
    return EventSchema(metadata, tables, counters)


async def create_schema(database: Database, schema: EventSchema) -> None:
    async with database.engine.begin() as conn:
        await conn.run_sync(schema.metadata.create_all)
    async with database.session() as session:
        await session.execute(schema.counters.insert().values(name="effects", value=0))


async def increment(session: AsyncSession, counters: Table) -> None:
    await session.execute(update(counters).where(counters.c.name == "effects").values(value=counters.c.value + 1))


async def read_counter(database: Database, counters: Table) -> int:
    async with database.session() as session:
        return (await session.execute(select(counters.c.value).where(counters.c.name == "effects"))).scalar_one()


def project_created(name: str = "Substation A") -> EventEnvelope:
    company = uuid.uuid4()
    return make_event(
        "project.project.created",
        ProjectCreated(project_id=uuid.uuid4(), company_id=company, name=name, owner_id=uuid.uuid4()),
        producer="project",
        company_id=company,
        request_id="req-" + uuid.uuid4().hex[:8],
    )
