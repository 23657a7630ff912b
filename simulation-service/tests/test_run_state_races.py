"""A state change of a run that lost a race to another is not applied: the one that won stays.

On SQLite the worker's `SELECT ... FOR UPDATE` takes no lock, and the driver opens the
transaction only at the first write, so a cancel committed between the worker's read of the
run and its write was overwritten: the run went back to `running` with the detail "cancelled
by user ...", and the cancelled study was solved anyway. Each transition (the claim, the
finish, failing a dead-lettered job, the cancel itself) is now one UPDATE conditional on the
status it moves from. These tests commit the rival change exactly between the reading and the
writing step, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ampflux_shared.db import Database
from ampflux_shared.errors import ProblemError
from ampflux_shared.events import Outbox
from ampflux_shared.events.work_queue import JobOutcome
from ampflux_shared.observability.metrics import ServiceMetrics
from ampflux_simulation import events
from ampflux_simulation.config import Settings
from ampflux_simulation.domain import runs
from ampflux_simulation.domain.inputs import StudyInput as PreparedInput
from ampflux_simulation.domain.packed import pack_result_sets
from ampflux_simulation.jobs import runner as runner_module
from ampflux_simulation.jobs.job import Job
from ampflux_simulation.jobs.runner import JobRunner
from ampflux_simulation.jobs.solve_process import SolveOutcome, SolveRequest, SolveStatus
from ampflux_simulation.metrics import SimulationMetrics
from ampflux_simulation.migrate import migrate
from ampflux_simulation.models import StudyResultSet, StudyRun, event_tables

# A rival step that cannot commit within this long is blocked by a lock the step under test holds.
RIVAL_TIMEOUT_S = 5.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'simulation.db'}"
    else:
        url = request.getfixturevalue("reusable_postgres_database")("simulation_races")
    migrate(Settings(database_url=url))
    db = Database(url)
    try:
        yield db
    finally:
        await db.dispose()


class Study:
    """One queued run, the worker's job runner, and a way to cancel the run as its submitter."""

    def __init__(self, db: Database, run: StudyRun) -> None:
        self.db = db
        self.run_id = run.id
        self.company_id = run.company_id
        self.user_id = run.requested_by
        self.settings = Settings(database_url=db.url)
        self.runner = JobRunner(db, Outbox(event_tables), self.settings, SimulationMetrics.of(ServiceMetrics()))
        self.job = Job(run_id=run.id, message_id=uuid.uuid4())
        self.solves: list[SolveRequest] = []

    async def cancel(self) -> StudyRun:
        """The API's cancel, in a transaction of its own, committed on return."""
        async with asyncio.timeout(RIVAL_TIMEOUT_S), self.db.session() as session:
            return await runs.cancel_run(session, self.company_id, self.run_id, cancelled_by=self.user_id)

    async def read(self) -> StudyRun:
        async with self.db.session() as session:
            run = await session.get(StudyRun, self.run_id)
            assert run is not None
            return run

    async def event_types(self) -> list[str]:
        async with self.db.session() as session:
            outbox = event_tables.outbox
            return list(
                (await session.scalars(select(outbox.c.type).order_by(outbox.c.created_at, outbox.c.type))).all()
            )

    async def result_sets(self) -> int:
        async with self.db.session() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(StudyResultSet).where(StudyResultSet.run_id == self.run_id)
                )
                or 0
            )


async def queued_study(db: Database) -> Study:
    submission = runs.Submission(
        company_id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        requested_by=uuid.uuid4(),
        circuit_id=None,
        circuit_version_id=None,
        circuit_version_number=None,
        options={},
    )
    document: dict[str, Any] = {"id": "race", "buses": [{"id": "B0", "vn_kv": 20.0}]}
    prepared = PreparedInput(document=document, document_id="race", bus_count=1, sha256="0" * 64, solve_options={})
    async with db.session() as session:
        run, created = await runs.submit_run(session, submission, prepared)
    assert created and run.status == "queued"
    return Study(db, run)


def solved_outcome() -> SolveOutcome:
    sets = [{"fault": "3ph", "case": "max", "quantities": ["ikss_ka"], "buses": {"B0": {"ikss_ka": 1.0}}}]
    return SolveOutcome(status=SolveStatus.OK, result_sets=pack_result_sets(sets, {"B0": 0}), solve_seconds=0.01)


def fake_solve(
    monkeypatch: pytest.MonkeyPatch, study: Study, *, during: Any = None, outcome: SolveOutcome | None = None
) -> None:
    """The solving child replaced by a record of the request (and `during()`, awaited while it 'solves')."""

    async def solve_in_child(request: SolveRequest, **_: Any) -> SolveOutcome:
        study.solves.append(request)
        if during is not None:
            await during()
        return outcome or solved_outcome()

    monkeypatch.setattr(runner_module, "solve_in_child", solve_in_child)


def after_next_read(monkeypatch: pytest.MonkeyPatch, name: str, rival: Any) -> asyncio.Event:
    """Arm a rival step: the next call of `runs.<name>` reads the run, then `rival()` runs and
    commits, then the step under test goes on to its write. Returns an event set once it ran."""
    real = getattr(runs, name)
    done = asyncio.Event()

    async def read_then_rival(*args: Any, **kwargs: Any) -> Any:
        found = await real(*args, **kwargs)
        monkeypatch.setattr(runs, name, real)
        await rival()
        done.set()
        return found

    monkeypatch.setattr(runs, name, read_then_rival)
    return done


async def test_a_cancel_committed_between_the_claims_read_and_write_wins(database, monkeypatch):
    study = await queued_study(database)
    fake_solve(monkeypatch, study)
    cancelled = after_next_read(monkeypatch, "load_for_job", study.cancel)

    assert await study.runner.handle(study.job) is JobOutcome.DONE

    assert cancelled.is_set()
    assert study.solves == []  # the cancelled study is not solved
    run = await study.read()
    assert run.status == "cancelled"
    assert run.error_code == "cancelled" and run.error_detail == f"cancelled by user {study.user_id}"
    assert run.attempts == 0 and run.started_at is None and run.worker_id is None
    assert await study.event_types() == [events.RUN_QUEUED, events.RUN_CANCELLED]
    # a redelivery of the job is dropped too
    assert await study.runner.handle(study.job) is JobOutcome.DONE
    assert study.solves == [] and (await study.read()).status == "cancelled"


async def test_a_cancel_committed_between_the_finishs_read_and_write_wins(database, monkeypatch):
    study = await queued_study(database)
    armed: list[asyncio.Event] = []

    async def solving() -> None:
        # The solve ends; the finish step's read of the run is the next one.
        assert (await study.read()).status == "running"
        armed.append(after_next_read(monkeypatch, "load_for_job", study.cancel))

    fake_solve(monkeypatch, study, during=solving)

    assert await study.runner.handle(study.job) is JobOutcome.DONE

    assert len(study.solves) == 1 and armed[0].is_set()
    run = await study.read()
    assert run.status == "cancelled"
    assert run.error_code == "cancelled" and run.error_detail == f"cancelled by user {study.user_id}"
    assert run.solve_seconds is None and run.progress == 0.0
    assert await study.result_sets() == 0  # the discarded solve's results are not stored
    assert await study.event_types() == [events.RUN_QUEUED, events.RUN_CANCELLED]


async def test_a_cancel_committed_between_a_dead_letter_failures_read_and_write_wins(database, monkeypatch):
    study = await queued_study(database)
    cancelled = after_next_read(monkeypatch, "load_for_job", study.cancel)

    assert await study.runner.dead_lettered(study.job, "broker reason 'rejected'", False) is JobOutcome.DONE

    assert cancelled.is_set()
    run = await study.read()
    assert run.status == "cancelled" and run.error_code == "cancelled"
    assert run.error_detail == f"cancelled by user {study.user_id}"
    assert await study.event_types() == [events.RUN_QUEUED, events.RUN_CANCELLED]


async def test_a_finish_committed_between_the_cancels_read_and_write_wins(database, monkeypatch):
    """The other way round: the solve finished while the cancel request was deciding; the
    cancel answers 409 (as for any finished run) instead of cancelling a succeeded run."""
    study = await queued_study(database)
    cancel_read = asyncio.Event()
    finished = asyncio.Event()

    async def wait_for_the_finish() -> None:
        cancel_read.set()
        async with asyncio.timeout(RIVAL_TIMEOUT_S):
            await finished.wait()

    async def solving() -> None:
        # The cancel reads the run while it is running, then waits for this solve's finish.
        after_next_read(monkeypatch, "get_run", wait_for_the_finish)
        cancelling.append(asyncio.create_task(study.cancel()))
        await cancel_read.wait()

    cancelling: list[asyncio.Task[StudyRun]] = []
    fake_solve(monkeypatch, study, during=solving)

    async with asyncio.timeout(RIVAL_TIMEOUT_S):
        assert await study.runner.handle(study.job) is JobOutcome.DONE
    finished.set()
    with pytest.raises(ProblemError) as refused:
        await cancelling[0]

    assert refused.value.status == 409
    run = await study.read()
    assert run.status == "succeeded" and run.error_code is None and run.error_detail is None
    assert run.progress == 1.0 and run.solve_seconds == pytest.approx(0.01)
    assert await study.result_sets() == 1
    assert await study.event_types() == [events.RUN_QUEUED, events.RUN_COMPLETED]
