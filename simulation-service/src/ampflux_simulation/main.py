"""The simulation service: app factory and entry point (`python -m ampflux_simulation`)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
from fastapi import FastAPI

from ampflux_shared.app import ServiceSpec, create_service_app, serve
from ampflux_shared.db_notify import ChangeListener
from ampflux_shared.security import JWKSVerifier
from ampflux_shared.tasks import cancel_and_wait

from .api import circuit_simulate, events_stream, results, simulations
from .config import Settings
from .domain import results as results_domain
from .domain import runs
from .jobs import heartbeat
from .jobs.embedded import subscribe_in_process
from .jobs.queue import RabbitJobQueue
from .jobs.runner import JobRunner
from .metrics import SimulationMetrics
from .models import RunStatus, event_tables, metadata
from .project_client import ProjectClient

log = logging.getLogger("ampflux.simulation")
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Migration 0003's trigger NOTIFYs it with the run id whenever a run's status or progress changes.
RUN_CHANGES_CHANNEL = "simulation_run_changed"


def create_app(
    settings: Settings | None = None,
    verifier: JWKSVerifier | None = None,
    *,
    project_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The API. With `amqp_url` set it only enqueues (workers solve); without one it is
    also its own worker on the in-process bus. `project_transport` lets a test reach an
    in-process project service."""
    settings = settings or Settings()

    async def on_startup(app: FastAPI) -> None:
        metrics = SimulationMetrics.of(app.state.metrics)
        app.state.simulation_metrics = metrics
        app.state.decoded_sets = results_domain.DecodedSets(settings.results_cache_buses)
        app.state.project_client = ProjectClient(
            settings.project_url, timeout_s=settings.project_timeout_s, transport=project_transport
        )
        # The live status streams are woken by the database's run-change notifications.
        app.state.run_changes = ChangeListener(settings.resolved_database_url(), RUN_CHANGES_CHANNEL)
        await app.state.run_changes.start()
        runner = JobRunner(app.state.db, app.state.relay.outbox, settings, metrics)
        app.state.job_queue = None
        if settings.amqp_url:
            # Declared here too, so a queued job is routable before any worker ever started.
            queue = RabbitJobQueue.from_settings(settings)
            await queue.start()
            app.state.job_queue = queue
        else:
            max_deliveries = getattr(app.state.bus, "max_deliveries", settings.job_delivery_limit)
            await subscribe_in_process(
                app.state.bus,
                settings.jobs_queue,
                runner,
                consumers=settings.embedded_workers,
                max_attempts=min(settings.job_delivery_limit, max_deliveries),
            )
        app.state.gauge_task = asyncio.create_task(_refresh_gauges(app, settings, metrics), name="simulation-gauges")

    async def on_shutdown(app: FastAPI) -> None:
        await app.state.run_changes.stop()
        # Not one cancel() and an await: a cancellation landing while the refresher opens a
        # channel for the queue stats can be lost in aio-pika (it comes back as an error the
        # loop survives), and the stop then waited forever (see ampflux_shared.tasks).
        await cancel_and_wait(app.state.gauge_task)
        if app.state.job_queue is not None:
            await app.state.job_queue.stop()
        await app.state.project_client.close()

    return create_service_app(
        ServiceSpec(
            title="AmpFlux simulation service",
            description="IEC 60909 short-circuit study runs: submit, follow, read and compare results.",
            settings=settings,
            routers=[simulations.router, circuit_simulate.router, results.router, events_stream.router],
            metadata=metadata,
            migrations_dir=MIGRATIONS_DIR,
            event_tables=event_tables,
            verifier=verifier,
            on_startup=[on_startup],
            on_shutdown=[on_shutdown],
        )
    )


async def _refresh_gauges(app: FastAPI, settings: Settings, metrics: SimulationMetrics) -> None:
    """Runs by state, queue depth and worker count, which only a query can tell."""
    while True:
        try:
            async with app.state.db.session() as session:
                counts = await runs.count_by_status(session)
                metrics.oldest_heartbeat_age.set(await heartbeat.oldest_heartbeat_age_s(session))
            for state, n in counts.items():
                metrics.runs.labels(state=state).set(n)
            queue: RabbitJobQueue | None = app.state.job_queue
            if queue is not None:
                stats = await queue.stats()
                metrics.queue_depth.set(stats.depth)
                metrics.dead_letter_depth.set(stats.dead_letters)
                metrics.workers.set(stats.consumers)
            else:
                metrics.queue_depth.set(counts[RunStatus.QUEUED.value])
                metrics.workers.set(settings.embedded_workers)
        except Exception:
            log.warning("could not refresh the simulation gauges", exc_info=True)
        await asyncio.sleep(settings.metrics_refresh_s)


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)
