"""A running run shows its worker's last heartbeat; one too old is reported stale."""

from __future__ import annotations

import uuid
from datetime import timedelta

from ampflux_shared.db import Database, utcnow
from ampflux_simulation.api.views import run_read
from ampflux_simulation.jobs.heartbeat import STALE_AFTER_S, heartbeat_age_s, is_stale, oldest_heartbeat_age_s
from ampflux_simulation.models import RunStatus, StudyRun, metadata


def a_run(status: RunStatus, beat_seconds_ago: float | None) -> StudyRun:
    now = utcnow()
    return StudyRun(
        id=uuid.uuid4(),
        company_id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        document_id="d",
        document_sha256="0" * 64,
        bus_count=1,
        options={},
        status=status,
        progress=0.0,
        attempts=1,
        worker_id="host:1",
        queued_at=now - timedelta(minutes=5),
        started_at=now - timedelta(minutes=4),
        worker_heartbeat_at=None if beat_seconds_ago is None else now - timedelta(seconds=beat_seconds_ago),
    )


def test_a_running_run_with_a_recent_beat_is_not_stale():
    run = a_run(RunStatus.RUNNING, 2.0)
    assert 1.0 < (heartbeat_age_s(run) or 0) < 60.0
    body = run_read(run)
    assert body.worker_heartbeat_at == run.worker_heartbeat_at and body.worker_stale is False


def test_a_running_run_whose_worker_stopped_beating_is_stale():
    run = a_run(RunStatus.RUNNING, STALE_AFTER_S + 30)
    assert is_stale(run)
    assert run_read(run).worker_stale is True


def test_only_running_runs_can_be_stale():
    assert not is_stale(a_run(RunStatus.SUCCEEDED, STALE_AFTER_S * 10))
    assert heartbeat_age_s(a_run(RunStatus.RUNNING, None)) is None


async def test_the_oldest_heartbeat_among_running_runs_is_the_alerts_figure(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'runs.db'}")
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with database.session() as session:
            assert await oldest_heartbeat_age_s(session) == 0.0  # nothing runs
            session.add_all(
                [
                    a_run(RunStatus.RUNNING, 3.0),
                    a_run(RunStatus.RUNNING, STALE_AFTER_S + 30),  # its worker died
                    a_run(RunStatus.RUNNING, None),  # claimed, no beat yet
                    a_run(RunStatus.SUCCEEDED, 3600.0),  # finished: its last beat does not count
                ]
            )
        async with database.session() as session:
            assert STALE_AFTER_S + 30 <= await oldest_heartbeat_age_s(session) < STALE_AFTER_S + 90
    finally:
        await database.dispose()
