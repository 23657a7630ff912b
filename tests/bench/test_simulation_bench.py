"""Benchmark: study throughput of the solver tier with 1 and 2 worker processes.

For each worker count: a fresh PostgreSQL database and work queue, the simulation API
in-process (it only enqueues, as in production with a broker), N real worker processes
(`python -m ampflux_simulation.worker`), then a batch of identical studies of a generated
meshed network submitted at once. Measured from the stored run timings:

- throughput of running workers: they are started and warmed up on three studies each
  (imports, forkserver, solving process, first queries: ~1.5 s of CPU per worker, which
  in a 2-3 s drain would weigh more than the runs), held (SIGSTOP) while the batch is
  submitted and queued (the API validates each document: it would otherwise feed the
  queue slower than two workers drain it), then let go together to drain it:
  runs / (last finish − first start), and fault buses per second;
- queue-to-start latency (started_at − queued_at) p50 / p95 of single studies submitted
  one after another to the idle tier (outbox relay, broker and worker pickup), and how
  long jobs of the burst waited after the first one started.

The machine is shared (the databases, the broker and other people's work run on the same
CPUs), so each worker count is measured in several rounds, alternating 1 and 2 workers,
and the summary takes the best drain of each (the one the rest of the machine disturbed
least) with the ratio of those, next to the per-round ratios.

Run with `make bench`; prints a markdown table and writes it to var/bench/simulation.md.
Knobs: AMPFLUX_BENCH_SIM_RUNS (default 40), AMPFLUX_BENCH_SIM_BUSES (default 3000),
AMPFLUX_BENCH_SIM_PICKUPS (default 20), AMPFLUX_BENCH_SIM_ROUNDS (default 3).
"""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import statistics
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest
from sqlalchemy import func, select

from ampflux_project.config import Settings as ProjectSettings
from ampflux_project.main import create_app as create_project_app
from ampflux_simulation.config import Settings
from ampflux_simulation.events import RUN_QUEUED
from ampflux_simulation.main import create_app
from ampflux_simulation.migrate import migrate
from ampflux_simulation.models import RunStatus, StudyRun
from ampflux_testing.polling import eventually
from ampflux_testing.processes import ServiceProcess, stop_together
from ampflux_testing.tokens import TestSigner

RUNS = int(os.environ.get("AMPFLUX_BENCH_SIM_RUNS", "40"))
PICKUPS = int(os.environ.get("AMPFLUX_BENCH_SIM_PICKUPS", "20"))
BUSES = int(os.environ.get("AMPFLUX_BENCH_SIM_BUSES", "3000"))
ROUNDS = int(os.environ.get("AMPFLUX_BENCH_SIM_ROUNDS", "3"))
WARM_UP = 3  # studies per worker before the batch
REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]


def meshed_network(n_buses: int) -> dict[str, Any]:
    """A 20 kV network: a binary tree of cables from one source, tied into meshes every tenth bus."""
    lines = [
        {
            "id": f"L{i}",
            "from_bus": f"B{(i - 1) // 2}",
            "to_bus": f"B{i}",
            "length_km": 0.4 + (i % 7) * 0.1,
            "r_ohm_per_km": 0.16,
            "x_ohm_per_km": 0.11,
        }
        for i in range(1, n_buses)
    ]
    lines += [
        {
            "id": f"T{i}",
            "from_bus": f"B{i}",
            "to_bus": f"B{i - 7}",
            "length_km": 1.0,
            "r_ohm_per_km": 0.2,
            "x_ohm_per_km": 0.12,
        }
        for i in range(10, n_buses, 10)
    ]
    return {
        "format": "circuit-document",
        "version": 1,
        "id": f"bench-{n_buses}",
        "study": {"frequency_hz": 50, "faults": ["3ph", "2ph"], "cases": ["max"]},
        "buses": [{"id": f"B{i}", "vn_kv": 20.0} for i in range(n_buses)],
        "ext_grids": [{"id": "G", "bus": "B0", "s_sc_max_mva": 500.0, "rx_max": 0.1}],
        "lines": lines,
    }


class Signer(TestSigner):
    def __init__(self) -> None:
        super().__init__(kid="bench")

    def headers(self, company_id: uuid.UUID) -> dict[str, str]:
        """An engineer of the company (one user per company, so the project it creates is its own)."""
        token = self.sign(uuid.uuid5(company_id, "engineer"), company_id, ["engineer"], ttl_s=3600)
        return {"Authorization": "Bearer " + token}


@dataclass
class Measurement:
    round: int
    workers: int
    runs: int
    seconds: float
    p50_start: float
    p95_start: float
    mean_solve: float
    p50_pickup: float
    p95_pickup: float
    # The machine's 1-minute load average when the drain started and when it ended: the
    # machine is shared, and a busy one blurs every figure here.
    load_start: float = 0.0
    load_end: float = 0.0

    @property
    def runs_per_s(self) -> float:
        return self.runs / self.seconds

    @property
    def buses_per_s(self) -> float:
        return self.runs * BUSES / self.seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def measure(workers: int, database_url: str, amqp_url: str, tmp: Path, round_: int = 1) -> Measurement:
    """The batch is queued while the warmed-up workers are held, so the drain measures the
    running workers, not the API's submit rate (it validates each 3000-bus document) nor
    their start-up; then, with the tier idle, single studies one after the other measure
    the queue-to-start pickup latency."""
    await asyncio.to_thread(tmp.mkdir, parents=True, exist_ok=True)
    queue = f"simulation.jobs.bench.{uuid.uuid4().hex[:8]}"
    settings = Settings(
        environment="test",
        data_dir=tmp,
        database_url=database_url,
        amqp_url=amqp_url,
        jobs_queue=queue,
        migrate_on_start=False,
        metrics_refresh_s=1.0,
    )
    migrate(settings)
    signer = Signer()
    env = {
        "SIMULATION_ENVIRONMENT": "test",
        "SIMULATION_DATABASE_URL": database_url,
        "SIMULATION_AMQP_URL": amqp_url,
        "SIMULATION_JOBS_QUEUE": queue,
        "SIMULATION_MIGRATE_ON_START": "false",
        "SIMULATION_LOG_LEVEL": "WARNING",
    }
    procs: list[ServiceProcess] = []
    # Studies belong to projects: the real project service answers the access checks (in-process,
    # on SQLite; it is asked once per submission, as in production).
    project_app = create_project_app(
        ProjectSettings(environment="test", data_dir=tmp / "project", database_url=f"sqlite+aiosqlite:///{tmp}/p.db"),
        verifier=signer.verifier(),
    )
    project_transport = httpx.ASGITransport(app=project_app)
    app = create_app(settings, verifier=signer.verifier(), project_transport=project_transport)
    try:
        async with project_app.router.lifespan_context(project_app), app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://simulation", timeout=120) as client:
                warm, batch, pickup = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
                projects = await create_projects(project_transport, signer, [warm, batch, pickup])
                document = meshed_network(BUSES)

                # Running workers, as in production: started and warmed up (imports, forkserver,
                # solving process, first queries) on a few studies of their own, then held
                # (SIGSTOP) while the batch is submitted and queued, and let go together.
                for i in range(workers):
                    procs.append(await asyncio.to_thread(start_worker, env, tmp / f"worker-{round_}-{workers}-{i}.log"))
                body = {"project_id": projects[warm], "document": document}
                for _ in range(WARM_UP * workers):
                    response = await client.post("/simulations", json=body, headers=signer.headers(warm))
                    assert response.status_code == 202, response.text
                await wait_all(app, warm, timeout=600)
                for p in procs:
                    p.send_signal(signal.SIGSTOP)
                body = {"project_id": projects[batch], "document": document}
                for _ in range(RUNS):
                    response = await client.post("/simulations", json=body, headers=signer.headers(batch))
                    assert response.status_code == 202, response.text
                # (a held worker may have been handed its next job before the stop)
                await all_queued(app, RUNS - workers, timeout=300)

                load_start = os.getloadavg()[0]
                for p in procs:
                    p.send_signal(signal.SIGCONT)
                await drained(app, batch, timeout=1800)
                load_end = os.getloadavg()[0]
                runs = await wait_all(app, batch, timeout=60)

                small = {"project_id": projects[pickup], "document": meshed_network(50)}
                for _ in range(PICKUPS):
                    response = await client.post("/simulations", json=small, headers=signer.headers(pickup))
                    await wait_all(app, pickup, timeout=120)
                pickups = await wait_all(app, pickup, timeout=120)
    finally:
        for p in procs:
            p.send_signal(signal.SIGCONT)  # a held worker would not act on SIGTERM
        await asyncio.to_thread(stop_together, [p.proc for p in procs if p.proc is not None], 30)
        await delete_queues(amqp_url, queue)

    assert {r.status for r in runs + pickups} == {"succeeded"}
    assert len({r.worker_id for r in runs}) == workers, "every worker should have taken part"
    first = min(r.started_at for r in runs)
    last = max(r.finished_at for r in runs)
    waits = [(r.started_at - first).total_seconds() for r in runs]
    return Measurement(
        round=round_,
        workers=workers,
        runs=len(runs),
        seconds=(last - first).total_seconds(),
        p50_start=percentile(waits, 0.50),
        p95_start=percentile(waits, 0.95),
        mean_solve=statistics.fmean(r.solve_seconds for r in runs),
        p50_pickup=percentile([r.queue_wait_seconds for r in pickups], 0.50),
        p95_pickup=percentile([r.queue_wait_seconds for r in pickups], 0.95),
        load_start=load_start,
        load_end=load_end,
    )


async def create_projects(
    transport: httpx.AsyncBaseTransport, signer: Signer, companies: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """One project per company, created by the engineer who then submits its studies."""
    ids = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://project") as client:
        for company in companies:
            r = await client.post(
                "/projects/", json={"name": f"bench {company.hex[:6]}"}, headers=signer.headers(company)
            )
            assert r.status_code == 201, r.text
            ids[company] = r.json()["id"]
    return ids


def start_worker(env: dict[str, str], log_path: Path) -> ServiceProcess:
    """A solver worker, not waited for: the warm-up studies it solves are the wait."""
    return ServiceProcess(log_path.stem, "ampflux_simulation.worker", 0, env, log_path).spawn()


async def all_queued(app, runs: int, *, timeout: float) -> None:
    """Until the relay has published every submitted job onto the queue.

    Only the jobs' rows are counted, not every unsent row of the outbox the workers share: a
    worker held mid-relay keeps its own `run.completed` rows locked (its transaction waits
    in the stopped process), the API's relay skips them, and they stay unsent until it is let
    go. Waiting for those hung the benchmark now and then, with every job already queued."""
    relay = app.state.relay

    async def queued() -> bool:
        async with app.state.db.session() as session:
            unsent = await session.scalar(
                select(func.count()).where(relay.table.c.published_at.is_(None), relay.table.c.type == RUN_QUEUED)
            )
        return not unsent and (await app.state.job_queue.stats()).depth >= runs

    await eventually(queued, timeout=timeout, interval=0.1, what="the jobs to reach the queue")


async def drained(app, company: uuid.UUID, *, timeout: float) -> None:
    """Until none of the company's runs is queued or running: a count every 0.2 s, which is
    all the API process does during a drain besides its relay and gauges."""

    async def none_open() -> bool:
        async with app.state.db.session() as session:
            open_runs = await session.scalar(
                select(func.count()).where(
                    StudyRun.company_id == company, StudyRun.status.in_([RunStatus.QUEUED, RunStatus.RUNNING])
                )
            )
        return not open_runs

    await eventually(none_open, timeout=timeout, interval=0.2, what="the batch to finish")


async def wait_all(app, company: uuid.UUID, *, timeout: float) -> list[StudyRun]:
    async def all_terminal() -> list[StudyRun] | None:
        async with app.state.db.session() as session:
            runs = list(await session.scalars(select(StudyRun).where(StudyRun.company_id == company)))
        return runs if runs and all(r.run_status.is_terminal for r in runs) else None

    return await eventually(all_terminal, timeout=timeout, interval=0.2, what="the batch to finish")


async def delete_queues(amqp_url: str, queue: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}.dlq", f"{queue}.parking"):
            await channel.queue_delete(name)


def table(results: list[Measurement]) -> str:
    base = {m.round: m.runs_per_s for m in results if m.workers == 1}
    lines = [
        f"Simulation tier: {RUNS} studies of a generated meshed {BUSES}-bus network (3ph + 2ph, max case), "
        f"queued before the workers start, then drained; PostgreSQL + RabbitMQ; "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs "
        f"(shared with the database, the broker and the API). Burst start = a job's start after the "
        f"first start; pickup = queue-to-start of {PICKUPS} single studies on an idle tier; "
        f"speed-up against the same round's one worker.",
        "",
        "| round | workers | runs | drain s | runs/s | buses/s | speed-up | burst start p50 s | burst start p95 s "
        "| mean solve s | pickup p50 s | pickup p95 s | load start/end |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        lines.append(
            f"| {m.round} | {m.workers} | {m.runs} | {m.seconds:.2f} | {m.runs_per_s:.2f} | {m.buses_per_s:,.0f} | "
            f"{m.runs_per_s / base[m.round]:.2f}× | {m.p50_start:.2f} | {m.p95_start:.2f} | {m.mean_solve:.3f} | "
            f"{m.p50_pickup:.3f} | {m.p95_pickup:.3f} | {m.load_start:.1f}/{m.load_end:.1f} |"
        )
    best = {w: max(m.runs_per_s for m in results if m.workers == w) for w in (1, 2)}
    lines += [
        "",
        f"Best of {ROUNDS}: 1 worker {best[1]:.2f} runs/s, 2 workers {best[2]:.2f} runs/s: "
        f"**{best[2] / best[1]:.2f}×**.",
    ]
    return "\n".join(lines) + "\n"


async def test_simulation_throughput_with_one_and_two_workers(make_postgres_database, amqp_url, tmp_path):
    results = []
    for round_ in range(1, ROUNDS + 1):
        for workers in (1, 2):
            database = make_postgres_database("ampflux_bench")
            results.append(await measure(workers, database, amqp_url, tmp_path / f"r{round_}w{workers}", round_))
    text = table(results)
    print("\n" + text)
    out = REPO / "var" / "bench" / "simulation.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
