"""One pipeline execution from claim to its final state: the handler both consumers share.

1. claim: take the execution (a new lease); finished, cancelled or unknown ones are dropped;
2. for each step in order: a step already `succeeded` is skipped (its stored output feeds the
   templates); otherwise mark it running (commit), run it while watching for a cancel, and
   commit its result before the next one starts. A failed step fails the execution;
3. mark the execution succeeded. Only then does the consumer ack the message.

A worker killed anywhere leaves the message unacked: the broker redelivers it, the next claim
finds the finished steps stored and starts again at the step that was running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from ampflux_shared.backoff import Backoff
from ampflux_shared.events.work_queue import JobOutcome
from ampflux_shared.infrastructure import is_infrastructure_error, retry_infrastructure

from ..domain.templates import Context
from .job import ExecutionJob
from .steps import StepEnvironment, StepResult, run_step
from .store import Claim, begin_step, claim, fail_dead_lettered, fail_open, still_ours, store_step, succeed

log = logging.getLogger("ampflux.ai.pipelines")

T = TypeVar("T")
# The outcome when the execution stopped being this worker's: cancelled, or taken over by
# another worker after a redelivery.
STOPPED = "stopped"


class ExecutionRunner:
    def __init__(self, env: StepEnvironment) -> None:
        self.env = env
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.backoff = Backoff(base_s=0.2, max_s=15.0)
        # Executions this process is running, each with an event set when it ends here.
        self._active: dict[uuid.UUID, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[object]] = set()

    async def _db(self, what: str, step: Callable[[], Awaitable[T]]) -> T:
        return await retry_infrastructure(step, what=what, backoff=self.backoff)

    async def handle(self, job: ExecutionJob) -> None:
        running = self._active.get(job.execution_id)
        if running is not None:
            # A redelivery of an execution this process is running (its channel was replaced):
            # settled only once the execution ends here, so no message of it is acked while its
            # work is undone (if this process dies first, the broker has it still).
            log.info("execution %s is already running in this process; holding the duplicate", job.execution_id)
            await running.wait()
            return
        ended = self._active[job.execution_id] = asyncio.Event()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            mine = await self._db(
                f"claiming execution {job.execution_id}",
                lambda: claim(self.env.database, job.execution_id, self.worker_id),
            )
            if mine is None:
                log.info("execution %s is finished, cancelled or not ours; dropping its job", job.execution_id)
                return
            self.env.metrics.pipeline_executions_in_progress.inc()
            try:
                outcome = await self._run(mine)
            except Exception as exc:
                if is_infrastructure_error(exc):
                    raise
                # A bug outside any one step: end the execution (its finished steps stay) rather
                # than leave it running or loop on it.
                log.exception("execution %s crashed", job.execution_id)
                reason = f"internal error: {type(exc).__name__}: {exc}"
                await self._db("failing a crashed execution", partial(fail_open, self.env.database, mine, reason))
                outcome = "failed"
            finally:
                self.env.metrics.pipeline_executions_in_progress.dec()
            self.env.metrics.pipeline_executions.labels(outcome).inc()
            log.info("execution %s: %s", job.execution_id, outcome)
        finally:
            del self._active[job.execution_id]
            ended.set()
            if task is not None:
                self._tasks.discard(task)

    async def stop(self, grace_s: float) -> None:
        """Let the executions under way finish for `grace_s`, then cancel them: each stays
        `running` with its finished steps stored, to be taken up again (a redelivery, or the
        embedded mode's next start)."""
        if not self._active:
            return
        # Wait for the executions to end, not for the tasks running them: in the embedded mode
        # such a task is the in-process bus's consumer loop, which goes on to the next message
        # and never ends by itself, so every stop waited the whole grace.
        endings = [asyncio.create_task(ended.wait()) for ended in self._active.values()]
        _, unfinished = await asyncio.wait(endings, timeout=grace_s)
        for waiting in unfinished:
            waiting.cancel()
        late = set(self._tasks)  # an execution's task leaves the set when the execution ends
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def dead_lettered(self, job: ExecutionJob, reason: str, delivery_limit_reached: bool) -> JobOutcome:
        """Fail a dead-lettered execution — unless only redeliveries spent the delivery limit
        (the simulation workers' rule): a healthy pipeline must not fail for a broker restart."""
        limit = self.env.settings.pipeline_delivery_limit if delivery_limit_reached else None
        decision = await self._db(
            f"failing dead-lettered execution {job.execution_id}",
            lambda: fail_dead_lettered(self.env.database, job.execution_id, reason, requeue_within=limit),
        )
        if decision == "requeue":
            log.warning("execution %s: the delivery limit was spent by redeliveries; requeueing", job.execution_id)
            return JobOutcome.RETRY
        if decision == "failed":
            self.env.metrics.pipeline_executions.labels("dead_lettered").inc()
            log.error("execution %s failed: dead-lettered (%s)", job.execution_id, reason)
        return JobOutcome.DONE

    async def _run(self, mine: Claim) -> str:
        outputs = {s.name: s.output for s in mine.steps if s.status == "succeeded"}
        for state in mine.steps:
            if state.status == "succeeded":
                continue
            started = await self._db(
                f"starting step {state.name!r}", partial(begin_step, self.env.database, mine, state.position)
            )
            if started is None:
                return STOPPED
            if started:
                self.env.metrics.pipeline_resumed_steps.inc()
                log.warning("execution %s: step %r starts again (its worker died)", mine.execution_id, state.name)
            began = time.perf_counter()
            result = await self._watched(mine, mine.definition[state.position], Context(mine.inputs, outputs))
            if result is None:
                return STOPPED
            seconds = time.perf_counter() - began
            stored = await self._db(
                f"storing step {state.name!r}",
                partial(store_step, self.env.database, mine, state.position, result, seconds),
            )
            if not stored:
                return STOPPED
            outcome = "succeeded" if result.ok else "failed"
            self.env.metrics.pipeline_steps.labels(state.kind, outcome).inc()
            self.env.metrics.pipeline_step_duration.labels(state.kind).observe(seconds)
            if not result.ok:
                return "failed"
            outputs[state.name] = result.output
        done = await self._db("finishing the execution", lambda: succeed(self.env.database, mine))
        return "succeeded" if done else STOPPED

    async def _watched(self, mine: Claim, step: dict[str, object], context: Context) -> StepResult | None:
        """Run the step; every `pipeline_cancel_poll_s` check that the execution is still ours
        (not cancelled, not taken over) and beat its heartbeat. None: stopped for that."""
        task = asyncio.create_task(self._step(mine, step, context), name=f"pipeline-step-{mine.execution_id}")
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.env.settings.pipeline_cancel_poll_s)
                if done:
                    return task.result()
                try:
                    ours = await still_ours(self.env.database, mine)
                except Exception as exc:  # a database blip: keep going, the store step checks again
                    log.warning("execution %s: cancel check failed (%s)", mine.execution_id, exc)
                    continue
                if not ours:
                    return None
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _step(self, mine: Claim, step: dict[str, object], context: Context) -> StepResult:
        try:
            return await run_step(self.env, mine.caller, dict(step), context)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a step is that step's failure, not a lost execution
            log.exception("execution %s: step %r crashed", mine.execution_id, step.get("name"))
            return StepResult(False, error=f"internal error: {type(exc).__name__}: {exc}")
