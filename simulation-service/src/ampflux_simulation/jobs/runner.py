"""One study job from delivery to acknowledgement: the handler both job consumers share.

The job handler owns its transactions:
1. claim: read the run; a finished, cancelled or unknown run, or a message id already in
   the inbox, is dropped (a redelivery does nothing); else mark it `running` with an UPDATE
   that applies only while it is queued or running, so a cancel committed since the read wins;
2. solve in a child process (`solve_process.py`), with progress, cancel checks and a time limit;
3. finish: read the run again and, unless it was cancelled or finished meanwhile (the
   UPDATE that marks it applies only while it is running), mark it, store the results,
   write the completed/failed event to the outbox and record the message id in the inbox,
   all in one transaction. Only after that commit may the
   consumer ack; a crash anywhere before it leaves the message to be redelivered.

Every database step waits out infrastructure errors in process (`ampflux_shared.infrastructure`): only
a solver crash answers RETRY, so only it spends the queue's delivery limit. Progress and
cancel checks during the solve are best effort: a database blip never stops a solve.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.backoff import Backoff
from ampflux_shared.db import Database
from ampflux_shared.events import Inbox, Outbox
from ampflux_shared.events.work_queue import JobOutcome
from ampflux_shared.infrastructure import is_infrastructure_error, retry_infrastructure

from ..config import Settings
from ..domain import results, runs
from ..metrics import SimulationMetrics
from ..models import RunStatus, StudyRun, event_tables
from . import heartbeat
from .heartbeat import HEARTBEAT_S
from .job import Job
from .solve_process import SolveOutcome, SolveRequest, SolveStatus, solve_in_child

log = logging.getLogger("ampflux.simulation.jobs")

INBOX_CONSUMER = "simulation.jobs"
MAX_INFRA_RETRY_S = 15.0


class JobRunner:
    def __init__(self, database: Database, outbox: Outbox, settings: Settings, metrics: SimulationMetrics) -> None:
        self.database = database
        self.outbox = outbox
        self.inbox = Inbox(event_tables)
        self.settings = settings
        self.metrics = metrics
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        # Never a zero base: a database outage must not become a busy loop.
        self._last_beat = time.monotonic()
        self.backoff = Backoff(base_s=max(settings.job_retry_delay_s, 0.05), max_s=MAX_INFRA_RETRY_S)

    async def handle(self, job: Job) -> JobOutcome:
        request = await retry_infrastructure(
            lambda: self._claim(job), what=f"claiming run {job.run_id}", backoff=self.backoff
        )
        if request is None:
            return JobOutcome.DONE
        self.metrics.jobs_in_progress.inc()
        try:
            outcome = await solve_in_child(
                request,
                time_limit_s=self.settings.job_time_limit_s,
                on_progress=lambda p: self._progress(job.run_id, p),
                is_cancelled=lambda: self._cancelled(job.run_id),
                poll_s=self.settings.cancel_poll_s,
            )
        finally:
            self.metrics.jobs_in_progress.dec()
        return await retry_infrastructure(
            lambda: self._finish(job, outcome), what=f"finishing run {job.run_id}", backoff=self.backoff
        )

    async def dead_lettered(self, job: Job, reason: str, delivery_limit_reached: bool = False) -> JobOutcome:
        """The broker gave up on the job: fail the run if it is still open (DONE), unless the
        delivery limit was spent by something other than solves (RETRY: back to the queue).

        RabbitMQ 3.10 counts every return of a message towards x-delivery-limit, also when
        the channel holding it closed (a broker restart, a network blip), and such a
        redelivery usually meets a worker still solving the run and is dropped unsolved. A
        poison job is claimed once per delivery; so a run claimed no more often than the limit
        allows was not given up on by its solves, and a healthy study must not fail for it.
        """
        return await retry_infrastructure(
            lambda: self._dead_lettered(job, reason, delivery_limit_reached),
            what=f"failing dead-lettered run {job.run_id}",
            backoff=self.backoff,
        )

    async def _dead_lettered(self, job: Job, reason: str, delivery_limit_reached: bool) -> JobOutcome:
        async with self.database.session() as session:
            run = await runs.load_for_job(session, job.run_id)
            if run is None or run.run_status.is_terminal:
                return JobOutcome.DONE
            if delivery_limit_reached and run.attempts <= self.settings.job_delivery_limit:
                self.metrics.jobs.labels(outcome="requeued").inc()
                log.warning(
                    "run %s: the delivery limit was spent by redeliveries, not solves (%d attempt(s)); requeueing",
                    job.run_id,
                    run.attempts,
                )
                return JobOutcome.RETRY
            detail = f"the job was dead-lettered after {max(run.attempts, 1)} attempt(s): {reason}"
            if not await runs.mark_failed(
                session, self.outbox, run, code="dead_lettered", detail=detail, from_statuses=runs.OPEN_STATUSES
            ):
                log.info("run %s is already %s; the dead-lettered job does not fail it", run.id, run.status)
                return JobOutcome.DONE
            await self.inbox.first_time(session, job.message_id, INBOX_CONSUMER)
        self.metrics.jobs.labels(outcome="dead_lettered").inc()
        log.error("run %s failed: %s", job.run_id, detail)
        return JobOutcome.DONE

    async def attempts(self, run_id: uuid.UUID) -> int:
        async def read() -> int:
            async with self.database.session() as session:
                return int(await session.scalar(select(StudyRun.attempts).where(StudyRun.id == run_id)) or 0)

        return await retry_infrastructure(read, what=f"reading the attempts of run {run_id}", backoff=self.backoff)

    # --- steps ------------------------------------------------------------------------

    async def _claim(self, job: Job) -> SolveRequest | None:
        async with self.database.session() as session:
            if await self._already_handled(session, job.message_id):
                self.metrics.jobs.labels(outcome="duplicate").inc()
                log.info("job %s for run %s was already handled; dropping the redelivery", job.message_id, job.run_id)
                return None
            run = await runs.load_for_job(session, job.run_id)
            if run is None:
                # Not this database's run (another deployment shares the exchange): not ours to do.
                log.warning("job %s names run %s, which does not exist here; dropping it", job.message_id, job.run_id)
                return None
            first_start = run.started_at is None
            # Claimed only from queued or running, in the UPDATE itself: a cancel committed
            # since the read above (or before it) wins, and the job is dropped.
            if run.run_status.is_terminal or not await runs.claim_run(session, run, self.worker_id):
                outcome = "cancelled" if run.run_status is RunStatus.CANCELLED else "duplicate"
                self.metrics.jobs.labels(outcome=outcome).inc()
                log.info("run %s is already %s; dropping its job", run.id, run.status)
                return None
            document_gz, validated_rules = await runs.load_input(session, run.id)
            if first_start:
                self.metrics.queue_wait.observe(run.queue_wait_seconds or 0.0)
            options = run.options or {}
            crash = bool(self.settings.test_crash_circuit_id) and run.document_id == self.settings.test_crash_circuit_id
        return SolveRequest(
            document_gz=document_gz,
            validated_rules=validated_rules,
            faults=options.get("faults"),
            cases=options.get("cases"),
            buses=options.get("buses"),
            branches_for=options.get("branches_for"),
            delay_s=self.settings.test_solve_delay_s,
            crash=crash,
        )

    async def _finish(self, job: Job, outcome: SolveOutcome) -> JobOutcome:
        if outcome.status is SolveStatus.CRASHED:
            self.metrics.jobs.labels(outcome="retried").inc()
            log.warning("run %s: %s; the job will be retried", job.run_id, outcome.detail)
            return JobOutcome.RETRY
        async with self.database.session() as session:
            run = await runs.load_for_job(session, job.run_id)
            if run is None or run.run_status is not RunStatus.RUNNING:
                return self._discard(job, run)
            # Finished only from running, in the UPDATE itself: a cancel committed since the
            # read above wins, and this solve's results are not stored.
            if outcome.status is SolveStatus.OK:
                if not await runs.mark_succeeded(session, self.outbox, run, solve_seconds=outcome.solve_seconds):
                    return self._discard(job, run)
                rows = await results.store_results(session, run.id, outcome.result_sets)
            elif not await runs.mark_failed(session, self.outbox, run, code=outcome.error_code, detail=outcome.detail):
                return self._discard(job, run)
            await self.inbox.first_time(session, job.message_id, INBOX_CONSUMER)
        if outcome.status is SolveStatus.OK:
            self.metrics.solve_duration.observe(outcome.solve_seconds)
            self.metrics.buses_solved.inc(run.bus_count)
            self.metrics.jobs.labels(outcome="succeeded").inc()
            log.info("run %s succeeded: %d bus results in %.3f s", run.id, rows, outcome.solve_seconds)
        else:
            self.metrics.jobs.labels(outcome="failed").inc()
            log.info("run %s failed (%s): %s", run.id, outcome.error_code, outcome.detail)
        return JobOutcome.DONE

    def _discard(self, job: Job, run: StudyRun | None) -> JobOutcome:
        """The solve of a run no longer running: cancelled while solving, or a twin delivery
        finished first. What is there stays."""
        status = run.status if run is not None else "gone"
        self.metrics.jobs.labels(outcome="cancelled" if status == RunStatus.CANCELLED else "duplicate").inc()
        log.info("run %s is %s; discarding this solve", job.run_id, status)
        return JobOutcome.DONE

    async def _already_handled(self, session: AsyncSession, message_id: uuid.UUID) -> bool:
        table = self.inbox.table
        found = await session.scalar(
            select(table.c.event_id).where(table.c.event_id == message_id, table.c.consumer == INBOX_CONSUMER)
        )
        return found is not None

    async def _progress(self, run_id: uuid.UUID, progress: float) -> None:
        if progress >= 1.0:
            # The last case is solved: the finish step writes 1.0 with the outcome in its own
            # commit a moment later; a transaction of its own here is one more commit per run
            # (most studies have one case, so this was the only progress write).
            return
        try:
            async with self.database.session() as session:
                await runs.set_progress(session, run_id, progress)
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            log.warning("run %s: progress %.2f not recorded (%s); the solve goes on", run_id, progress, exc)

    async def _cancelled(self, run_id: uuid.UUID) -> bool:
        """Cancel check, every `cancel_poll_s`; every HEARTBEAT_S it also beats."""
        try:
            async with self.database.session() as session:
                if time.monotonic() - self._last_beat >= HEARTBEAT_S:
                    await heartbeat.beat(session, run_id, self.worker_id)
                    self._last_beat = time.monotonic()
                return await runs.current_status(session, run_id) is not RunStatus.RUNNING
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            # Cannot tell: keep solving; the finish step looks at the run's status again.
            log.warning("run %s: cancel check failed (%s); the solve goes on", run_id, exc)
            return False
