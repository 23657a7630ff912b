"""The API process's part in pipelines, started and stopped with the app.

With a broker it only declares the work queue (so an execution queued before any worker ever
started is kept) and leaves the running to `python -m ampflux_ai.pipeline_worker`; without one
it is its own worker (`embedded.py`). Either way it listens for execution changes for the
event streams and holds the key ring that seals callers' tokens.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from ampflux_shared.db_notify import ChangeListener
from ampflux_shared.tasks import cancel_and_wait

from ..config import Settings
from ..domain.credentials import credential_keyring
from .embedded import run_in_process
from .queue import PipelineQueue
from .runner import ExecutionRunner
from .steps import StepEnvironment

# At shutdown, embedded executions get this long to finish their step; then they stop and
# are taken up again at the next start.
EMBEDDED_STOP_GRACE_S = 5.0
# Migration 0003's triggers NOTIFY it with the execution id when a step row or the execution's
# status changes, whoever wrote it (a worker, the API's cancel).
EXECUTION_CHANGES_CHANNEL = "ai_pipeline_execution_changed"


async def start_pipelines(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    app.state.credential_keyring = credential_keyring(settings)
    app.state.execution_changes = ChangeListener(settings.resolved_database_url(), EXECUTION_CHANGES_CHANNEL)
    await app.state.execution_changes.start()
    app.state.pipeline_queue = None
    app.state.pipeline_runner = None
    app.state.pipeline_resume = None
    if settings.amqp_url:
        queue = PipelineQueue.from_settings(settings)
        await queue.start()
        app.state.pipeline_queue = queue
        return
    env = StepEnvironment(
        app.state.db,
        settings,
        app.state.providers,
        app.state.ai_metrics,
        app.state.credential_keyring,
        tool_transport=getattr(app.state, "tool_transport", None),
    )
    runner = ExecutionRunner(env)
    app.state.pipeline_runner = runner
    app.state.pipeline_resume = await run_in_process(
        app.state.bus, settings.pipeline_queue, runner, consumers=settings.pipeline_concurrency
    )


async def stop_pipelines(app: FastAPI) -> None:
    resume: asyncio.Task[None] | None = app.state.pipeline_resume
    await cancel_and_wait(resume)
    if app.state.pipeline_runner is not None:
        await app.state.pipeline_runner.stop(EMBEDDED_STOP_GRACE_S)
    if app.state.pipeline_queue is not None:
        await app.state.pipeline_queue.stop()
    await app.state.execution_changes.stop()
