"""The real solver tier: worker processes on PostgreSQL and RabbitMQ.

A test starts the API in-process on a database and a work queue (unique name) and the
workers as separate `python -m ampflux_simulation.worker` processes, exactly as they run in
production. A test that kills, signals or reconfigures its workers gets a stack of its own;
the tests that only send jobs share one (`one_worker`: one database, queue, API and worker
for the module), since a worker's start is most of such a test's time and CPU.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, make_url, select

from ampflux_simulation.migrate import migrate
from ampflux_simulation.models import StudyResultSet, event_tables
from ampflux_testing.dead_letters import delete_queue_topology
from ampflux_testing.polling import eventually
from ampflux_testing.processes import ServiceProcess, stop_together
from ampflux_testing.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]


@dataclass
class Stack:
    api: Any
    settings: Any
    log_dir: Path
    workers: list[subprocess.Popen] = field(default_factory=list)

    def start_worker(self, popen_options: dict[str, Any] | None = None, **overrides: Any) -> subprocess.Popen:
        values = {
            "ENVIRONMENT": "test",
            "DATABASE_URL": self.settings.database_url,
            "AMQP_URL": self.settings.amqp_url,
            "JOBS_QUEUE": self.settings.jobs_queue,
            "JOB_DELIVERY_LIMIT": self.settings.job_delivery_limit,
            "JOB_RETRY_DELAY_S": self.settings.job_retry_delay_s,
            "MIGRATE_ON_START": "false",
            "CANCEL_POLL_S": "0.1",
            "TEST_SOLVE_DELAY_S": self.settings.test_solve_delay_s,
            "TEST_CRASH_CIRCUIT_ID": self.settings.test_crash_circuit_id,
            "LOG_LEVEL": "INFO",
        }
        values.update({k.upper(): v for k, v in overrides.items()})
        worker = ServiceProcess(
            f"worker-{len(self.workers)}",
            "ampflux_simulation.worker",
            0,
            {f"SIMULATION_{k}": str(v) for k, v in values.items()},
            self.log_dir / f"worker-{len(self.workers)}.log",
            popen_options=popen_options or {},
        ).spawn()
        assert worker.proc is not None
        process = worker.proc
        self.workers.append(process)
        return process

    async def wait_for_workers(self, count: int, timeout: float = 60.0) -> None:
        consumers: list[int] = []

        async def all_up() -> bool:
            consumers.append((await self.api.app.state.job_queue.stats(timeout_s=10)).consumers)
            if consumers[-1] >= count:
                return True
            for w in self.workers:
                assert w.poll() is None, f"worker exited with {w.returncode}: {self.logs()}"
            return False

        await eventually(
            all_up, timeout=timeout, interval=0.2, what=lambda: f"{count} workers (only {consumers[-1]} came up)"
        )

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop_workers(self) -> None:
        stop_together(self.workers, timeout_s=15)


@asynccontextmanager
async def real_stack(tmp_path, auth, helpers, database_url, amqp_url, **overrides) -> AsyncIterator[Stack]:
    values = dict(
        database_url=database_url,
        amqp_url=amqp_url,
        job_delivery_limit=3,
        job_retry_delay_s=0.1,
        migrate_on_start=False,
    )
    values.update(overrides)
    settings = helpers.study_settings(tmp_path, **values)
    migrate(settings)  # once, before any process starts (the deploy step)
    try:
        async with _bounded("the API's shutdown", helpers.running_api(settings, auth)) as api:
            stack = Stack(api, settings, tmp_path)
            try:
                yield stack
            finally:
                await asyncio.to_thread(stack.stop_workers)
    finally:
        async with asyncio.timeout(30):
            await delete_queue_topology(amqp_url, settings.jobs_queue)


@asynccontextmanager
async def _bounded(what: str, context, timeout: float = 60.0):
    """Enter `context` and fail loudly (rather than hang) if leaving it takes too long."""
    value = await context.__aenter__()
    try:
        yield value
    except BaseException as exc:
        async with asyncio.timeout(timeout):
            if not await context.__aexit__(type(exc), exc, exc.__traceback__):
                raise
    else:
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                await context.__aexit__(None, None, None)
        except TimeoutError:
            raise AssertionError(f"{what} took more than {timeout} s") from None
        # Measured too: code that swallows a CancelledError inside (a suppress around an await)
        # swallows the limit's, and the timeout then passes silently, the stop merely late.
        if (took := time.monotonic() - started) > timeout:
            raise AssertionError(f"{what} took {took:.1f} s, more than {timeout} s")


# The shared stack's settings: what its tests need, and harmless to the others (only a
# document with id "poison" crashes its solver; no other test here redelivers a job).
SHARED = dict(job_delivery_limit=2, test_crash_circuit_id="poison")
# Its tests run on one xdist worker, so the module's stack starts once, not once per worker.
one_stack = pytest.mark.xdist_group("simulation-one-worker")


@pytest.fixture(scope="module")
async def one_worker(tmp_path_factory, auth, helpers, reusable_postgres_database, amqp_url) -> AsyncIterator[Stack]:
    """One API and one worker, started once for the tests that neither kill, signal nor
    reconfigure their worker. Each such test finds its own runs by id (its own project)."""
    database_url = reusable_postgres_database("simulation_workers")
    async with real_stack(
        tmp_path_factory.mktemp("one-worker"), auth, helpers, database_url, amqp_url, **SHARED
    ) as stack:
        stack.start_worker()
        await stack.wait_for_workers(1)
        yield stack


async def result_rows(api, run_id: str) -> int:
    """Bus results stored for the run, over all its result sets."""
    async with api.app.state.db.session() as session:
        return int(
            await session.scalar(
                select(func.coalesce(func.sum(StudyResultSet.bus_count), 0)).where(
                    StudyResultSet.run_id == uuid.UUID(run_id)
                )
            )
        )


async def events_for(api, run_id: str) -> list[str]:
    table = event_tables.outbox
    async with api.app.state.db.session() as session:
        rows = (await session.execute(select(table.c.type, table.c.payload))).all()
    return sorted(r.type for r in rows if r.payload.get("run_id") == run_id)


async def test_two_workers_share_a_batch_of_jobs(tmp_path, auth, helpers, postgres_url, amqp_url):
    async with real_stack(tmp_path, auth, helpers, postgres_url, amqp_url, test_solve_delay_s=0.3) as stack:
        stack.start_worker()
        stack.start_worker()
        await stack.wait_for_workers(2)
        api = stack.api
        case = helpers.load_case("ind480_radial")
        runs = [(await api.submit(helpers.without_expected(case))).json() for _ in range(8)]
        finished = [await api.wait(r["id"], timeout=120) for r in runs]

        assert {r["status"] for r in finished} == {"succeeded"}, stack.logs()
        assert len({r["worker_id"] for r in finished}) == 2  # both workers took some
        assert all(r["attempts"] == 1 for r in finished)
        items = await api.all_results(runs[0]["id"])
        assert len(items) == len(case["buses"]) * len(case["expected"]["result_sets"])

        async def gauge_shows_both() -> bool:  # refreshed every metrics_refresh_s
            return "ampflux_simulation_workers 2.0" in (await api.client.get("/metrics")).text

        await eventually(gauge_shows_both, timeout=10, what="the workers gauge at 2")


async def test_a_worker_killed_mid_job_loses_no_job_and_doubles_none(tmp_path, auth, helpers, postgres_url, amqp_url):
    async with real_stack(tmp_path, auth, helpers, postgres_url, amqp_url, test_solve_delay_s=4.0) as stack:
        first, second = stack.start_worker(), stack.start_worker()
        await stack.wait_for_workers(2)
        api = stack.api
        case = helpers.load_case("mv_meshed_20kv")
        run = (await api.submit(helpers.without_expected(case))).json()
        running = await api.wait(run["id"], {"running"}, timeout=60)
        assert running["worker_heartbeat_at"] is not None and running["worker_stale"] is False
        victim = first if running["worker_id"].endswith(f":{first.pid}") else second
        victim.send_signal(signal.SIGKILL)
        victim.wait()

        final = await api.wait(run["id"], timeout=120)
        assert final["status"] == "succeeded", stack.logs()
        assert final["attempts"] == 2
        assert final["worker_id"] != running["worker_id"]
        assert await result_rows(api, run["id"]) == len(case["buses"]) * len(case["expected"]["result_sets"])
        assert await events_for(api, run["id"]) == ["simulation.run.completed", "simulation.run.queued"]


@one_stack
async def test_a_poison_job_ends_in_the_dead_letter_queue_and_its_run_fails(one_worker, helpers):
    poison = helpers.without_expected(helpers.load_case("ind480_radial"))
    poison["id"] = "poison"
    stack = one_worker
    assert stack.settings.job_delivery_limit == 2 and stack.settings.test_crash_circuit_id == "poison"
    [worker] = stack.workers
    api = stack.api
    run = (await api.submit(poison)).json()
    final = await api.wait(run["id"], timeout=90)
    assert final["status"] == "failed", stack.logs()
    assert final["error"]["code"] == "dead_lettered"
    assert final["attempts"] == 3  # the first delivery and two redeliveries: x-delivery-limit 2
    assert await events_for(api, run["id"]) == ["simulation.run.failed", "simulation.run.queued"]

    # The worker survived its solver dying under it, and goes on with healthy jobs.
    assert worker.poll() is None
    healthy = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
    assert (await api.wait(healthy["id"], timeout=60))["status"] == "succeeded"


@one_stack
async def test_concurrent_retries_with_one_idempotency_key_create_one_run(one_worker, helpers):
    api = one_worker.api
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    project = await api.new_project()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    responses = await asyncio.gather(*(api.submit(document, project_id=project, headers=key) for _ in range(5)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["id"] for r in responses}) == 1
    listed = await api.client.get("/simulations", params={"project_id": str(project)}, headers=api.headers)
    assert listed.json()["total"] == 1
    # One job for the one run: the stack's worker solves it once.
    run_id = responses[0].json()["id"]
    assert (await api.wait(run_id))["attempts"] == 1
    assert await events_for(api, run_id) == ["simulation.run.completed", "simulation.run.queued"]


async def test_cancelling_stops_a_running_job_and_drops_a_queued_one(tmp_path, auth, helpers, postgres_url, amqp_url):
    async with real_stack(tmp_path, auth, helpers, postgres_url, amqp_url, test_solve_delay_s=20.0) as stack:
        stack.start_worker()
        await stack.wait_for_workers(1)
        api = stack.api
        document = helpers.without_expected(helpers.load_case("ind480_radial"))
        running = (await api.submit(document)).json()
        queued = (await api.submit(document)).json()
        await api.wait(running["id"], {"running"}, timeout=60)
        for run in (queued, running):
            response = await api.client.post(f"/simulations/{run['id']}/cancel", headers=api.headers)
            assert response.json()["status"] == "cancelled"

        # The worker notices within its poll interval, kills the solve and moves on.
        started = time.monotonic()
        after = (await api.submit(document)).json()
        await api.wait(after["id"], {"running"}, timeout=30)
        assert time.monotonic() - started < 10.0, "the cancelled solve was not stopped"
        for run in (running, queued):
            final = (await api.client.get(f"/simulations/{run['id']}", headers=api.headers)).json()
            assert final["status"] == "cancelled"
            assert await result_rows(api, run["id"]) == 0
        assert (await api.client.get(f"/simulations/{queued['id']}", headers=api.headers)).json()["attempts"] == 0
        await api.client.post(f"/simulations/{after['id']}/cancel", headers=api.headers)


@one_stack
async def test_a_redelivered_job_of_a_finished_run_does_nothing(one_worker, helpers):
    stack = one_worker
    assert len(stack.workers) == 1
    api = stack.api
    case = helpers.load_case("ind480_radial")
    run = (await api.submit(helpers.without_expected(case))).json()
    done = await api.wait(run["id"], timeout=60)
    assert done["status"] == "succeeded"

    # The relay sends the very same job again (as after a crash between the broker's
    # confirm and marking the row sent): same message id, at least once.
    table = event_tables.outbox
    async with api.app.state.db.session() as session:
        rows = (
            await session.execute(select(table.c.id, table.c.payload).where(table.c.type == "simulation.run.queued"))
        ).all()
        [queued] = [r.id for r in rows if r.payload.get("run_id") == run["id"]]
        await session.execute(table.update().where(table.c.id == queued).values(published_at=None))
    api.app.state.relay.kick()

    async def relayed() -> bool:
        return not await api.app.state.relay.pending()

    await eventually(relayed, timeout=30, interval=0.1, what="the relay to send the job again")
    # One worker takes jobs in order: once a later job is done, the duplicate was handled.
    later = (await api.submit(helpers.without_expected(case))).json()
    assert (await api.wait(later["id"], timeout=60))["status"] == "succeeded"

    again = (await api.client.get(f"/simulations/{run['id']}", headers=api.headers)).json()
    assert again["attempts"] == 1 and again["timings"] == done["timings"]
    assert await result_rows(api, run["id"]) == len(case["buses"]) * len(case["expected"]["result_sets"])
    assert await events_for(api, run["id"]) == ["simulation.run.completed", "simulation.run.queued"]


@one_stack
async def test_a_20k_bus_study_is_stored_once_and_pages_filters_and_downloads(one_worker, helpers):
    api = one_worker.api
    n = 20_000
    run = (await api.submit(helpers.generated_network(n, doc_id="big"))).json()
    final = await api.wait(run["id"], timeout=240)
    assert final["status"] == "succeeded", final["error"]
    assert final["bus_count"] == n
    assert await result_rows(api, run["id"]) == 2 * n  # 3ph and 2ph, max case

    middle = await api.client.get(
        f"/simulations/{run['id']}/results",
        params={"fault": "2ph", "page": 141, "page_size": 100},  # rows 14000-14099
        headers=api.headers,
    )
    one_bus = await api.client.get(f"/simulations/{run['id']}/results", params={"bus": "B19999"}, headers=api.headers)
    body = middle.json()
    assert body["total"] == n and body["items"][0]["bus_id"] == "B14000"
    assert {(i["fault"], i["bus_id"]) for i in one_bus.json()["items"]} == {("3ph", "B19999"), ("2ph", "B19999")}

    csv_text = (
        await api.client.get(
            f"/simulations/{run['id']}/results/download", params={"format": "csv"}, headers=api.headers
        )
    ).text
    assert csv_text.count("\n") == 2 * n + 1


# What a worker logs when it meets a database outage and waits it out.
OUTAGE_SIGNS = ("cancel check failed", "infrastructure error", "not recorded")


async def test_a_database_outage_mid_solve_is_waited_out_without_spending_the_delivery_limit(
    tmp_path, auth, helpers, postgres_url, amqp_url
):
    # The worker reaches PostgreSQL through a proxy the test cuts for a while mid-solve (the
    # API keeps its direct connection): before, the first failed progress write killed the
    # solve and the retries spent the delivery limit in a second, failing a healthy study.
    target = make_url(postgres_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.open()
    try:
        through_proxy = target.set(port=proxy.port).render_as_string(hide_password=False)
        async with real_stack(tmp_path, auth, helpers, postgres_url, amqp_url, test_solve_delay_s=3.0) as stack:
            stack.start_worker(database_url=through_proxy)
            await stack.wait_for_workers(1)
            api = stack.api
            case = helpers.load_case("ind480_radial")
            run = (await api.submit(helpers.without_expected(case))).json()
            await api.wait(run["id"], {"running"}, timeout=60)
            assert proxy.connections_accepted > 0, "the worker does not use the proxy"
            await proxy.close()
            # The outage lasts until the worker has met it (its solve may start late on a
            # loaded machine), then a few seconds more: it must wait, not give up.
            await eventually(
                lambda: any(sign in stack.logs() for sign in OUTAGE_SIGNS),
                timeout=90,
                interval=0.2,
                what=lambda: f"the worker to meet the outage: {stack.logs()}",
            )
            await asyncio.sleep(3.0)  # part of the outage, not a wait for a result
            await proxy.open()

            final = await api.wait(run["id"], timeout=90)
            assert final["status"] == "succeeded", (final.get("error"), stack.logs())
            assert final["attempts"] == 1
            assert await result_rows(api, run["id"]) == len(case["buses"]) * len(case["expected"]["result_sets"])
            assert await events_for(api, run["id"]) == ["simulation.run.completed", "simulation.run.queued"]
    finally:
        await proxy.close()


async def test_sigterm_to_the_workers_process_group_lets_the_solve_finish(
    tmp_path, auth, helpers, postgres_url, amqp_url
):
    async with real_stack(tmp_path, auth, helpers, postgres_url, amqp_url, test_solve_delay_s=4.0) as stack:
        # Its own process group, as under a shell or systemd: the signal reaches every process.
        worker = stack.start_worker(popen_options={"start_new_session": True})
        await stack.wait_for_workers(1)
        api = stack.api
        run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
        await api.wait(run["id"], {"running"}, timeout=60)
        os.killpg(worker.pid, signal.SIGTERM)

        assert await asyncio.to_thread(worker.wait, 60) == 0, stack.logs()
        final = (await api.client.get(f"/simulations/{run['id']}", headers=api.headers)).json()
        assert final["status"] == "succeeded", (final.get("error"), stack.logs())
        assert final["attempts"] == 1


async def test_live_status_is_pushed_by_the_database_not_polled(tmp_path, auth, helpers, postgres_url, amqp_url):
    # Polling once a minute: only the run-change notifications can make the stream this quick.
    async with real_stack(
        tmp_path,
        auth,
        helpers,
        postgres_url,
        amqp_url,
        test_solve_delay_s=3.0,
        events_poll_s=60.0,
        events_keepalive_s=60.0,
    ) as stack:
        stack.start_worker()
        await stack.wait_for_workers(1)
        api = stack.api
        assert not api.app.state.run_changes.listening  # no LISTEN connection until a stream watches
        run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
        started = time.monotonic()
        names: list[str] = []
        async with asyncio.timeout(40):
            async with api.client.stream("GET", f"/simulations/{run['id']}/events", headers=api.headers) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        names.append(line.split(":", 1)[1].strip())
        assert "running" in names and names[-1] == "succeeded", names
        assert time.monotonic() - started < 30.0
