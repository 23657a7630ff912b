"""The worker process shape: its base (metrics endpoint, database, outbox relay) opens and
closes in order, a worker without a broker says which variable it needs, and a signal stops a
worker that then finishes its drain and exits cleanly (a real process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import httpx
from pydantic_settings import SettingsConfigDict
from sqlalchemy import text

from ampflux_shared.db import new_metadata
from ampflux_shared.events.tables import EventTables
from ampflux_shared.settings import ServiceSettings
from ampflux_shared.worker import broker_missing, worker_base
from ampflux_testing.processes import free_port


class WorkerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SOMEWORK_", extra="ignore")


async def test_the_worker_base_serves_metrics_and_opens_and_closes_its_parts(tmp_path):
    settings = WorkerSettings(service_name="somework", data_dir=tmp_path, migrate_on_start=False)
    port = free_port()
    async with worker_base(
        settings,
        metrics_port=port,
        event_tables=EventTables(new_metadata()),
    ) as base:
        async with base.database.session() as session:
            assert (await session.execute(text("SELECT 41 + 1"))).scalar_one() == 42
        relay_task = base.relay._task
        assert relay_task is not None and not relay_task.done()  # the relay runs with the worker
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(f"http://127.0.0.1:{port}/metrics")
        assert answer.status_code == 200 and "ampflux_events" in answer.text
    assert relay_task.done()  # stopped on the way out


def test_a_worker_without_a_broker_names_the_variable_it_needs(capsys):
    assert broker_missing(WorkerSettings(amqp_url=""), "ampflux_x.worker", "the API does the work") is True
    assert "ampflux_x.worker needs SOMEWORK_AMQP_URL; without a broker the API does the work" in capsys.readouterr().err
    assert broker_missing(WorkerSettings(amqp_url="amqp://broker/"), "ampflux_x.worker", "-") is False


def test_sigterm_stops_the_worker_which_drains_and_exits_cleanly():
    script = textwrap.dedent(
        """
        import asyncio
        from ampflux_shared.worker import serve_until_signalled

        async def run(stop):
            print("ready", flush=True)
            await stop.wait()
            await asyncio.sleep(0.2)  # the drain
            print("drained", flush=True)

        serve_until_signalled(run)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        time.sleep(0.1)
        process.terminate()  # SIGTERM
        out, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0 and out.strip() == "drained"
