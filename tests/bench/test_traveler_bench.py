"""Benchmark: every traveler report at shop scale on PostgreSQL.

Seeds one company with 10,000 travelers (10 steps each), 100,000 step executions,
200,000 labor logs, 10,000 coating logs and 2,000 serial units with their QC results
(COPY, then ANALYZE), then times each report over the whole history (no date filter: the
worst case) and over one month, through the domain functions the routes call. Aim: every
report under 100 ms.

Run with `make bench`; prints a markdown table and writes it to var/bench/traveler.md.
Knob: AMPFLUX_BENCH_TRAVELERS (default 10000; executions and logs scale with it).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from alembic import command

from ampflux_shared.db import Database
from ampflux_shared.migrations import alembic_config, upgrade_to_head
from ampflux_traveler.domain import reports
from ampflux_traveler.domain.templates import DEFAULT_ROUTINGS
from ampflux_traveler.main import MIGRATIONS_DIR

TRAVELERS = int(os.environ.get("AMPFLUX_BENCH_TRAVELERS", "10000"))
EXECUTIONS_PER = 10
LOGS_PER = 20
SERIAL_TRAVELERS = TRAVELERS // 10
REPO = Path(__file__).resolve().parents[2]
STATUSES = ["completed"] * 6 + ["in_progress", "released", "on_hold", "draft"]
TYPES = list(DEFAULT_ROUTINGS)
VERSION_TABLE = "alembic_version_traveler"

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def seed(url: str, company: uuid.UUID) -> dict[str, int]:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    counts = dict.fromkeys(("travelers", "steps", "executions", "labor_logs", "coating_logs", "unit_results"), 0)
    operators = [uuid.uuid4() for _ in range(40)]
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
        travelers, steps, executions, logs, coatings, units, results = [], [], [], [], [], [], []
        for i in range(TRAVELERS):
            tid, ttype = uuid.uuid4(), TYPES[i % len(TYPES)]
            created = start + timedelta(minutes=50 * i)
            status = STATUSES[i % len(STATUSES)]
            released = created + timedelta(hours=2) if status != "draft" else None
            completed = created + timedelta(days=rng.randint(1, 12)) if status == "completed" else None
            routing = DEFAULT_ROUTINGS[ttype]
            travelers.append(
                (
                    tid,
                    company,
                    f"T-2026-{i + 1:05d}",
                    ttype,
                    f"PN-{i % 300}",
                    "A",
                    10,
                    3,
                    (created + timedelta(days=7)).date(),
                    status,
                    None if status == "completed" else routing[0][0],
                    uuid.uuid4(),
                    created,
                    created,
                    released,
                    completed,
                )
            )
            step_ids = []
            for position, (name, minutes, role) in enumerate(routing, start=1):
                sid = uuid.uuid4()
                step_ids.append((sid, name, position, minutes))
                steps.append((sid, tid, company, position, name, minutes, role, "done" if completed else "pending"))
            for k in range(EXECUTIONS_PER):
                sid, name, position, minutes = step_ids[k % len(step_ids)]
                done_at = created + timedelta(hours=3 + k)
                failed = 1 if rng.random() < 0.1 else 0
                executions.append(
                    (
                        uuid.uuid4(),
                        company,
                        tid,
                        sid,
                        "first" if k < len(step_ids) else "rework",
                        10,
                        "completed",
                        operators[k % 40],
                        done_at - timedelta(hours=1),
                        operators[(k + i) % 40],
                        done_at,
                        10 - failed,
                        failed,
                        "",
                        done_at,
                        name,
                        position,
                        minutes,
                        ttype,
                    )
                )
            for k in range(LOGS_PER):
                sid, name, _, _ = step_ids[k % len(step_ids)]
                clock_in = created + timedelta(hours=3, minutes=7 * k)
                spent = rng.uniform(5, 60)
                logs.append(
                    (
                        uuid.uuid4(),
                        company,
                        tid,
                        sid,
                        operators[(i + k) % 40],
                        clock_in,
                        clock_in + timedelta(minutes=spent),
                        spent,
                        "operator",
                        name,
                        ttype,
                    )
                )
            readings = [rng.uniform(20, 80) for _ in range(5)]
            coatings.append(
                (
                    uuid.uuid4(),
                    company,
                    tid,
                    "acrylic" if i % 3 else "silicone",
                    "HumiSeal",
                    "L1",
                    "[" + ",".join(f"{r:.2f}" for r in readings) + "]",
                    min(readings),
                    max(readings),
                    sum(readings) / 5,
                    25.0,
                    75.0,
                    min(readings) >= 25.0 and max(readings) <= 75.0,
                    uuid.uuid4(),
                    created + timedelta(hours=5),
                )
            )
            if i < SERIAL_TRAVELERS:
                qc_step = step_ids[-1][0]
                exec_id = executions[-1][0]
                for s in range(2):
                    uid = uuid.uuid4()
                    units.append((uid, tid, company, f"S{i}-{s}", "ok", created))
                    results.append(
                        (
                            uuid.uuid4(),
                            company,
                            uid,
                            exec_id,
                            qc_step,
                            rng.random() > 0.1,
                            uuid.uuid4(),
                            created + timedelta(hours=6),
                        )
                    )
        copies = [
            (
                "travelers",
                "id, company_id, number, traveler_type, part_number, revision, quantity, priority, due_date, "
                "status, current_step, created_by, created_at, updated_at, released_at, completed_at",
                travelers,
            ),
            (
                "traveler_steps",
                "id, traveler_id, company_id, position, name, standard_minutes, signoff_role, status",
                steps,
            ),
            (
                "step_executions",
                "id, company_id, traveler_id, step_id, kind, quantity, status, started_by, started_at, "
                "signed_off_by, completed_at, qty_passed, qty_failed, notes, created_at, step_name, step_position, "
                "standard_minutes, traveler_type",
                executions,
            ),
            (
                "labor_logs",
                "id, company_id, traveler_id, step_id, operator_id, clock_in, clock_out, minutes, closed_reason, "
                "step_name, traveler_type",
                logs,
            ),
            (
                "coating_logs",
                "id, company_id, traveler_id, coating_type, material, lot, readings, thickness_min, "
                "thickness_max, thickness_mean, spec_min, spec_max, passed, recorded_by, recorded_at",
                coatings,
            ),
            ("serial_units", "id, traveler_id, company_id, serial, status, created_at", units),
            (
                "unit_step_results",
                "id, company_id, unit_id, execution_id, step_id, passed, recorded_by, recorded_at",
                results,
            ),
        ]
        for table, columns, rows in copies:
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        # As autovacuum would by then: statistics, and the visibility map index-only scans need.
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
        counts.update(
            travelers=len(travelers),
            steps=len(steps),
            executions=len(executions),
            labor_logs=len(logs),
            coating_logs=len(coatings),
            unit_results=len(results),
        )
    return counts


async def time_reports(url: str, company: uuid.UUID) -> list[tuple[str, str, float, float]]:
    db = Database(url)
    whole = reports.Filters(company_id=company)
    month = reports.Filters(company_id=company, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))
    typed = reports.Filters(company_id=company, traveler_type="PCB")
    calls = {
        "dashboard-stats": lambda s, f: reports.dashboard_stats(s, f, today=date(2026, 6, 1)),
        "traveler-completion": lambda s, f: reports.traveler_completion(s, f, period="month"),
        "labor-efficiency": reports.labor_efficiency,
        "coating-status": reports.coating_status,
        "first-pass-yield": reports.first_pass_yield,
    }
    out = []
    try:
        for name, call in calls.items():
            for label, f in (("all", whole), ("one month", month), ("type PCB", typed)):
                times = []
                for _ in range(5):
                    async with db.session() as session:
                        t0 = time.perf_counter()
                        await call(session, f)
                        times.append((time.perf_counter() - t0) * 1000)
                out.append((name, label, statistics.median(times), max(times)))
    finally:
        await db.dispose()
    return out


def test_every_report_at_shop_scale(make_postgres_database):
    url = make_postgres_database("ampflux_bench_traveler")
    # The raw history goes in at 0002; 0003 then builds the daily rollups from it, as it
    # would on a database that already had this history.
    command.upgrade(alembic_config(MIGRATIONS_DIR, url, VERSION_TABLE), "0002")
    company = uuid.uuid4()
    t0 = time.perf_counter()
    counts = seed(url, company)
    seeded_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    upgrade_to_head(MIGRATIONS_DIR, url, VERSION_TABLE)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    rollup_s = time.perf_counter() - t0
    results = asyncio.run(time_reports(url, company))

    lines = [
        f"Seeded {counts} in {seeded_s:.1f} s; migration 0003 built the daily rollups in {rollup_s:.1f} s.",
        "",
        "| report | filter | median ms | max ms (5 runs) |",
        "|---|---|---|---|",
        *(f"| {name} | {label} | {median:.1f} | {worst:.1f} |" for name, label, median, worst in results),
    ]
    text = "\n".join(lines)
    print("\n" + text)
    out = REPO / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "traveler.md").write_text(text + "\n")
    assert counts["executions"] == TRAVELERS * EXECUTIONS_PER and counts["labor_logs"] == TRAVELERS * LOGS_PER
    assert all(median < 1000 for _, _, median, _ in results), "a report took over a second"
