"""A run's result sets go into the database as one compressed document each and their buses
come back as they were solved, in document order, on PostgreSQL and SQLite, with awkward bus
ids, non-finite numbers and nulls; pages and bus filters read the same rows."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ampflux_shared.db import Database
from ampflux_shared.pagination import PageParams
from ampflux_simulation.config import Settings
from ampflux_simulation.domain import results
from ampflux_simulation.domain.packed import pack_result_sets
from ampflux_simulation.migrate import migrate
from ampflux_simulation.models import StudyRun

# Bus ids with every character COPY's text format escapes, and some it does not.
BUS_IDS = ["plain", "tab\there", "new\nline", "back\\slash", "cr\rreturn", "\\N", "ümlaut ″", '"quoted"']


# a trail with non-finite numbers (stored as "inf"/"nan"), and one with text COPY must escape
NON_FINITE = {"c": 1.1, "z0_ohm": {"r": math.inf, "x": math.nan}, "note": "a\\b\tc"}
AWKWARD_TEXT = {"c": 1.1, "note": "a\\b\tc\nd ″ null", "none": None}
PLAIN_TEXT = {"c": 1.05, "note": "x\\y\tz ″"}


def _values(i: int) -> dict[str, Any]:
    return {"ikss_ka": 1.5 + i, "rk0_ohm": "inf"}


def _result_sets() -> list[dict[str, Any]]:
    buses = {b: _values(i) for i, b in enumerate(BUS_IDS)}
    trail_3ph = {b: NON_FINITE for b in BUS_IDS[:-1]}
    trail_1ph = {b: (AWKWARD_TEXT if i % 2 else PLAIN_TEXT) for i, b in enumerate(BUS_IDS)}
    return [
        {"fault": "3ph", "case": "max", "quantities": ["ikss_ka"], "buses": buses, "trail": trail_3ph},
        {"fault": "1ph", "case": "max", "quantities": ["ikss_ka"], "buses": buses, "trail": trail_1ph},
    ]


async def _add_run(database: Database, document_id: str) -> uuid.UUID:
    """A run of BUS_IDS buses for result sets to belong to."""
    run_id = uuid.uuid4()
    async with database.session() as session:
        session.add(
            StudyRun(
                id=run_id,
                company_id=uuid.uuid4(),
                project_id=uuid.uuid4(),
                document_id=document_id,
                document_sha256="0" * 64,
                bus_count=len(BUS_IDS),
            )
        )
    return run_id


async def _store_and_read(url: str) -> list[tuple[str, str, str, dict[str, Any], Any]]:
    migrate(Settings(database_url=url))
    database = Database(url)
    try:
        run_id = await _add_run(database, "storage")
        # stored in document order whatever order the solver reported the buses in
        order = {b: i for i, b in enumerate(BUS_IDS)}
        reported = _result_sets()
        for rs in reported:
            rs["buses"] = dict(reversed(rs["buses"].items()))
        async with database.session() as session:
            written = await results.store_results(session, run_id, pack_result_sets(reported, order))
        assert written == 2 * len(BUS_IDS)
        decoded = results.DecodedSets(max_buses=100)
        async with database.session() as session:
            sets = await results.result_sets(session, run_id)
            assert [rs.bus_count for rs in sets] == [len(BUS_IDS)] * 2
            rows = [
                (row.fault, row.case, row.bus_id, row.values, row.trail)
                async for row in results.iter_bus_results(session, decoded, sets)
            ]
            # a page across the two sets, and a bus filter, read the same rows
            page = await results.bus_results_page(session, decoded, sets, paging=PageParams(page=2, page_size=5))
            assert page.total == len(rows)
            assert [(r.fault, r.bus_id, r.bus_index) for r in page.items] == [
                (fault, bus_id, order[bus_id]) for fault, _, bus_id, _, _ in rows[5:10]
            ]
            wanted = [BUS_IDS[3], BUS_IDS[0], "missing", BUS_IDS[0]]
            filtered = await results.bus_results_page(
                session, decoded, sets, buses=wanted, paging=PageParams(page=1, page_size=100)
            )
            assert [(r.fault, r.bus_id) for r in filtered.items] == [
                (f, b) for f in ("3ph", "1ph") for b in (BUS_IDS[0], BUS_IDS[3])
            ]
            assert filtered.total == 4
            return rows
    finally:
        await database.engine.dispose()


def _expected() -> list[tuple[str, str, str, dict[str, Any], Any]]:
    non_finite = {"c": 1.1, "z0_ohm": {"r": "inf", "x": "nan"}, "note": "a\\b\tc"}
    rows = [("3ph", "max", b, _values(i), non_finite if b != BUS_IDS[-1] else None) for i, b in enumerate(BUS_IDS)]
    rows += [("1ph", "max", b, _values(i), AWKWARD_TEXT if i % 2 else PLAIN_TEXT) for i, b in enumerate(BUS_IDS)]
    return rows


@pytest.mark.postgres
async def test_result_sets_round_trip_on_postgresql(postgres_url: str) -> None:
    assert await _store_and_read(postgres_url) == _expected()


async def test_result_sets_round_trip_on_sqlite(tmp_path: Path) -> None:
    assert await _store_and_read(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}") == _expected()


async def test_decoded_sets_are_read_once_and_big_ones_not_kept(tmp_path: Path) -> None:
    """Paging through a set decodes it once; a set over the cache's bound is read every time."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}"
    migrate(Settings(database_url=url))
    database = Database(url)
    try:
        run_id = await _add_run(database, "cache")
        order = {b: i for i, b in enumerate(BUS_IDS)}
        async with database.session() as session:
            await results.store_results(session, run_id, pack_result_sets(_result_sets(), order))
        reads: list[str] = []

        def count_blob_reads(conn, cursor, statement, *args) -> None:
            if "buses_z" in statement:
                reads.append(statement)

        sa.event.listen(database.engine.sync_engine, "before_cursor_execute", count_blob_reads)
        for bound, expected_reads, kept in ((100, 2, 2), (len(BUS_IDS) - 1, 4, 0)):
            reads.clear()
            decoded = results.DecodedSets(max_buses=bound)
            async with database.session() as session:
                sets = await results.result_sets(session, run_id)
                for page in (1, 2, 3):
                    await results.bus_results_page(session, decoded, sets, paging=PageParams(page=page, page_size=6))
            # pages of 6 over two sets of 8 buses: set 1; sets 1 and 2; set 2. Each read once when kept
            assert len(reads) == expected_reads, bound
            assert len(decoded) == kept
    finally:
        await database.engine.dispose()
