"""Migration 0005 moves the per-bus result rows of existing runs into one document per result
set, which the API reads as before, and its downgrade rebuilds the rows (PostgreSQL and SQLite)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from ampflux_shared.db import Database
from ampflux_shared.migrations import alembic_config, sync_url
from ampflux_shared.pagination import PageParams
from ampflux_simulation.domain import results
from ampflux_simulation.main import MIGRATIONS_DIR
from ampflux_simulation.models import StudyRun

VERSION_TABLE = "alembic_version_simulation"
RUN = uuid.uuid4()
# (fault, case, position) → its buses in document order: (bus_index, bus_id, values, trail)
SETS: dict[tuple[str, str, int], list[tuple[int, str, dict[str, Any], Any]]] = {
    ("3ph", "max", 0): [
        (0, "B0", {"ikss_ka": 1.5, "rk0_ohm": "inf"}, {"c": 1.1, "note": 'tab\t "q" ″'}),
        (1, "B\\1", {"ikss_ka": 2.5}, {"c": 1.1, "z": None}),
        (3, "L1@0.5", {"ikss_ka": 0.5}, None),
    ],
    ("1ph", "max", 1): [(0, "B0", {"ikss_ka": 1.0}, None), (1, "B\\1", {"ikss_ka": math.pi}, None)],
}


# The tables as they were at 0004.
OLD_SETS = sa.table(
    "study_result_sets",
    *(sa.column(c, sa.Uuid()) for c in ("run_id",)),
    *(sa.column(c, sa.String()) for c in ("fault", "case")),
    sa.column("position", sa.Integer()),
    *(sa.column(c, sa.JSON()) for c in ("quantities", "extra")),
)
OLD_BUSES = sa.table(
    "study_bus_results",
    sa.column("run_id", sa.Uuid()),
    *(sa.column(c, sa.String()) for c in ("fault", "case", "bus_id")),
    sa.column("bus_index", sa.Integer()),
    *(sa.column(c, sa.JSON()) for c in ("values", "trail")),
)


def _seed(url: str) -> None:
    engine = sa.create_engine(sync_url(url))
    sets, buses = OLD_SETS, OLD_BUSES
    with engine.begin() as conn:
        conn.execute(
            StudyRun.__table__.insert().values(
                id=RUN,
                company_id=uuid.uuid4(),
                project_id=uuid.uuid4(),
                document_id="old",
                document_sha256="0" * 64,
                bus_count=3,
                options={},
                status="succeeded",
                progress=1.0,
                attempts=1,
                queued_at=datetime.now(UTC),
            )
        )
        for (fault, case, position), rows in SETS.items():
            conn.execute(
                sets.insert().values(
                    run_id=RUN, fault=fault, case=case, position=position, quantities=["ikss_ka"], extra={}
                )
            )
            conn.execute(
                buses.insert(),
                [
                    {"run_id": RUN, "fault": fault, "case": case, "bus_index": i, "bus_id": b, "values": v, "trail": t}
                    for i, b, v, t in rows
                ],
            )
    engine.dispose()


def _old_rows(url: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(sync_url(url))
    buses = OLD_BUSES
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(buses.c.fault, buses.c.bus_index, buses.c.bus_id, buses.c["values"], buses.c.trail).order_by(
                buses.c.fault.desc(), buses.c.bus_index
            )
        ).all()
    engine.dispose()
    return [tuple(r) for r in found]


async def _read(url: str) -> list[tuple[Any, ...]]:
    database = Database(url)
    try:
        async with database.session() as session:
            sets = await results.result_sets(session, RUN)
            assert [(rs.fault, rs.bus_count) for rs in sets] == [("3ph", 3), ("1ph", 2)]
            page = await results.bus_results_page(
                session, results.DecodedSets(0), sets, paging=PageParams(page=1, page_size=100)
            )
            return [(r.fault, r.bus_index, r.bus_id, r.values, r.trail) for r in page.items]
    finally:
        await database.engine.dispose()


async def _migrate_there_and_back(url: str) -> None:
    config = alembic_config(MIGRATIONS_DIR, url, VERSION_TABLE)
    command.upgrade(config, "0004")
    _seed(url)
    expected = [(fault, i, b, v, t) for (fault, _, _), rows in SETS.items() for i, b, v, t in rows]
    assert _old_rows(url) == expected

    command.upgrade(config, "0005")
    assert await _read(url) == expected
    engine = sa.create_engine(sync_url(url))
    assert "study_bus_results" not in sa.inspect(engine).get_table_names()
    engine.dispose()

    command.downgrade(config, "0004")
    assert _old_rows(url) == expected


@pytest.mark.postgres
async def test_migration_0005_moves_bus_rows_on_postgresql(postgres_url: str) -> None:
    await _migrate_there_and_back(postgres_url)


async def test_migration_0005_moves_bus_rows_on_sqlite(tmp_path: Path) -> None:
    await _migrate_there_and_back(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
