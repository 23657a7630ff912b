"""Worker CPU per run of the solver tier, in CPU seconds (a busy shared machine blurs them less
than wall-clock figures), for the simulation README's benchmark section.

    .venv/bin/python tests/bench/simulation_worker_cpu.py steps [N]   # by step, N stores (20)
    .venv/bin/python tests/bench/simulation_worker_cpu.py drain [RUNS] # a real worker, RUNS (30)
    .venv/bin/python tests/bench/simulation_worker_cpu.py account [RUNS] [WORKERS]  # (40, 1)

`steps`: the bench's study (3,000-bus meshed network, 3ph + 2ph, max) parsed and solved in
this process as the solving child does it, packed for storage, the transfer (pickle dumps +
loads of what the child sends) and storing (store_results + commit) into a fresh PostgreSQL
database: the worker's CPU and that of the PostgreSQL backend serving it (/proc ticks).

`drain`: one real worker process (`python -m ampflux_simulation.worker`) drains RUNS
studies after three warm-up runs: CPU of the worker process, of its solving children (the
forkserver's tree, reaped children included) and of the PostgreSQL backends of the
worker's own connections (PGAPPNAME), per run. The API runs in this process (it only
enqueues).

`account`: every process's CPU over a drain of RUNS prequeued studies by WORKERS real
workers, as in the benchmark: workers, solving children, the API, PostgreSQL (this
database's backends, the server's background processes), RabbitMQ, and the machine's busy
CPU besides them; per run, and the bound it sets on two CPUs (2 / total).

Not a test (no test_ prefix): run by hand. TEST_DATABASE_URL / TEST_AMQP_URL as for the
tests. Set PYTHONPATH to another checkout's `simulation-service/src:shared/src` to measure
older code the same way (`steps` works with both the row-per-bus and the document storage).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import pickle
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]

import httpx  # noqa: E402  (after the path set-up above)
from sqlalchemy import create_engine, text  # noqa: E402

PG_ADMIN = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU s, reaped children's CPU s) of a process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, (int(fields[13]) + int(fields[14])) / TICK


def tree_cpu(root: int) -> tuple[float, float]:
    """(the root's own CPU, the whole tree's CPU including reaped descendants)."""
    procs = {int(d): s for d in os.listdir("/proc") if d.isdigit() and (s := _stat(int(d))) is not None}
    total, own_root, todo = 0.0, 0.0, [root]
    while todo:
        pid = todo.pop()
        _, own, reaped = procs[pid]
        own_root = own if pid == root else own_root
        total += own + reaped
        todo += [child for child, (parent, _, _) in procs.items() if parent == pid]
    return own_root, total


class FreshDatabase:
    def __init__(self) -> None:
        self.admin = create_engine(PG_ADMIN.replace("+asyncpg", "+psycopg"), isolation_level="AUTOCOMMIT")
        self.name = f"ampflux_cpu_{uuid.uuid4().hex[:8]}"
        self.url = PG_ADMIN.rsplit("/", 1)[0].replace("+asyncpg", "+psycopg") + "/" + self.name

    def __enter__(self) -> str:
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self.url

    def __exit__(self, *exc: object) -> None:
        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


async def steps(n: int) -> None:
    from test_simulation_bench import meshed_network

    from ampflux_shared.circuit import parse_circuit
    from ampflux_shared.db import Database
    from ampflux_simulation.config import Settings
    from ampflux_simulation.domain import results
    from ampflux_simulation.jobs import solve_process
    from ampflux_simulation.migrate import migrate
    from ampflux_simulation.models import StudyRun
    from ampflux_simulation.solver import solve_study

    documents = hasattr(results, "DecodedSets")  # one document per result set (issue 13)
    document_gz = gzip.compress(json.dumps(meshed_network(3000)).encode())

    def solve() -> tuple[Any, list[dict[str, Any]]]:
        doc = parse_circuit(json.loads(gzip.decompress(document_gz)))
        return doc, solve_study(doc, faults=["3ph", "2ph"], cases=["max"]).to_result_sets()

    solve()  # warm
    t_solve, t_pack, t_transfer, payloads = [], [], [], []
    for _ in range(5):
        c = time.process_time()
        doc, sets = solve()
        t_solve.append(time.process_time() - c)
        order = solve_process._bus_order(doc)
        c = time.process_time()
        if documents:
            from ampflux_simulation.domain.packed import pack_result_sets

            payload: dict[str, Any] = {"result_sets": pack_result_sets(sets, order)}
        else:
            payload = {"result_sets": sets, "bus_order": order}
        t_pack.append(time.process_time() - c)
        c = time.process_time()
        payloads.append(pickle.loads(pickle.dumps(("done", payload), protocol=pickle.HIGHEST_PROTOCOL))[1])
        t_transfer.append(time.process_time() - c)

    with FreshDatabase() as url:
        migrate(Settings(database_url=url))
        database = Database(url)
        run_ids = [uuid.uuid4() for _ in range(n + 2)]
        async with database.session() as session:
            for run_id in run_ids:
                session.add(
                    StudyRun(
                        id=run_id,
                        company_id=uuid.uuid4(),
                        project_id=uuid.uuid4(),
                        document_id="cpu",
                        document_sha256="0" * 64,
                        bus_count=3000,
                    )
                )
        payload = payloads[0]
        t_store, t_pg = [], []
        for i, run_id in enumerate(run_ids):
            async with database.session() as session:
                backend = (await session.execute(text("select pg_backend_pid()"))).scalar_one()
                pg0, c = _stat(backend), time.process_time()
                if documents:
                    await results.store_results(session, run_id, payload["result_sets"])
                else:
                    await results.store_results(  # type: ignore[call-arg]  (the old signature)
                        session, run_id, payload["result_sets"], payload["bus_order"]
                    )
            worker_s, pg1 = time.process_time() - c, _stat(backend)
            if i >= 2 and pg0 and pg1:  # the first two warm the connection and the caches
                t_store.append(worker_s)
                t_pg.append(pg1[1] - pg0[1])
        async with database.session() as session:
            size = (
                await session.execute(
                    text(
                        "select pg_total_relation_size('study_result_sets')"
                        " + coalesce(pg_total_relation_size(to_regclass('study_bus_results')), 0)"
                    )
                )
            ).scalar_one()
        await database.engine.dispose()

    med = statistics.median
    overhead = med(t_pack) + med(t_transfer) + med(t_store) + statistics.fmean(t_pg)
    print(f"storage: {'one document per result set' if documents else 'one row per bus'}")
    print(f"parse + solve        min {min(t_solve):.3f}  median {med(t_solve):.3f}")
    print(f"packing (child)      median {med(t_pack):.4f}")
    print(f"transfer (pickle)    median {med(t_transfer):.4f}")
    print(f"storing on worker    median {med(t_store):.4f}")
    print(f"PostgreSQL backend   mean {statistics.fmean(t_pg):.4f} ({n} runs, {1 / TICK:g} s ticks)")
    print(f"overhead beyond the solve {overhead:.4f} s = {100 * overhead / min(t_solve):.0f} % of the solve")
    print(f"stored per run {size / len(run_ids) / 1e6:.2f} MB; load average {os.getloadavg()}")


def _tier(url: str, tmp: Path, queue: str, extra_env: dict[str, str]) -> tuple[Any, ...]:
    """The tier `drain` and `account` measure, on the database at `url` (migrated here): the
    workers' environment, a token signer, the project app and its transport, the simulation
    API app (in-process: it only enqueues) and an AUTOCOMMIT engine for reading CPU counters."""
    import test_simulation_bench as bench

    from ampflux_project.config import Settings as ProjectSettings
    from ampflux_project.main import create_app as create_project_app
    from ampflux_simulation.config import Settings
    from ampflux_simulation.main import create_app
    from ampflux_simulation.migrate import migrate

    settings = Settings(
        environment="test", data_dir=tmp, database_url=url, amqp_url=AMQP, jobs_queue=queue, migrate_on_start=False
    )
    migrate(settings)
    signer = bench.Signer()
    env = dict(os.environ)
    env.update(
        {
            "SIMULATION_ENVIRONMENT": "test",
            "SIMULATION_DATABASE_URL": url,
            "SIMULATION_AMQP_URL": AMQP,
            "SIMULATION_JOBS_QUEUE": queue,
            "SIMULATION_MIGRATE_ON_START": "false",
            "SIMULATION_LOG_LEVEL": "WARNING",
            **extra_env,
        }
    )
    project_app = create_project_app(
        ProjectSettings(environment="test", data_dir=tmp / "p", database_url=f"sqlite+aiosqlite:///{tmp}/p.db"),
        verifier=signer.verifier(),
    )
    project_transport = httpx.ASGITransport(app=project_app)
    app = create_app(settings, verifier=signer.verifier(), project_transport=project_transport)
    return env, signer, project_app, project_transport, app, create_engine(url, isolation_level="AUTOCOMMIT")


async def drain(runs_wanted: int) -> None:
    import test_simulation_bench as bench

    tmp = Path(tempfile.mkdtemp(prefix="ampflux-cpu-"))
    queue = f"simulation.jobs.cpu.{uuid.uuid4().hex[:8]}"
    with FreshDatabase() as url:
        env, signer, project_app, project_transport, app, engine = _tier(url, tmp, queue, {"PGAPPNAME": "cpu-worker"})

        def backends() -> dict[int, float]:
            with engine.connect() as c:
                pids = c.execute(text("select pid from pg_stat_activity where application_name = 'cpu-worker'"))
                return {pid: s[1] for (pid,) in pids if (s := _stat(pid)) is not None}

        worker = None
        try:
            async with project_app.router.lifespan_context(project_app), app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://s", timeout=120) as client:
                    warm, batch = uuid.uuid4(), uuid.uuid4()
                    projects = await bench.create_projects(project_transport, signer, [warm, batch])
                    document = bench.meshed_network(3000)
                    worker = bench.start_worker(env, tmp / "worker.log")
                    for company, count in ((warm, 3), (batch, runs_wanted)):
                        if company == batch:
                            pg0, (own0, tree0), load0 = backends(), tree_cpu(worker.pid), os.getloadavg()[0]
                        body = {"project_id": projects[company], "document": document}
                        for _ in range(count):
                            r = await client.post("/simulations", json=body, headers=signer.headers(company))
                            assert r.status_code == 202, r.text
                        runs = await bench.wait_all(app, company, timeout=1800)
                    pg1, (own1, tree1), load1 = backends(), tree_cpu(worker.pid), os.getloadavg()[0]
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
            engine.dispose()
            await bench.delete_queues(AMQP, queue)
    assert {r.status for r in runs} == {"succeeded"}
    n = len(runs)
    own, children = (own1 - own0) / n, ((tree1 - tree0) - (own1 - own0)) / n
    pg = sum(cpu - pg0.get(pid, 0.0) for pid, cpu in pg1.items()) / n
    print(
        f"{n} runs; CPU s per run: worker {own:.4f}, solving children {children:.4f}, its PostgreSQL backends {pg:.4f}"
    )
    print(f"total {own + children + pg:.4f}; load average {load0:.1f} -> {load1:.1f}")


def _beam_pid() -> int | None:
    """The RabbitMQ node's Erlang VM (one process for the whole broker)."""
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if Path(f"/proc/{d}/comm").read_text().strip() == "beam.smp":
                    return int(d)
            except OSError:
                continue
    return None


def _busy_s() -> tuple[float, float]:
    """(the machine's busy CPU seconds, steal seconds) from /proc/stat, every CPU together."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = f[:8]
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


async def account(runs_wanted: int, workers: int) -> None:
    """Everyone's CPU over a drain of RUNS prequeued studies by WORKERS workers.

    The workers start first and solve warm-up studies (imports, forkserver, first-use caches);
    then they are stopped (SIGSTOP) while the batch is submitted and relayed onto the queue,
    so the measured window holds the drain alone, as in the benchmark; SIGCONT starts it.
    Counted per run: each worker process, its solving children (forkserver tree), this
    process (the API: relay, gauges, change listener, and the drain's completion poll),
    the PostgreSQL backends of this database (by pid, from pg_stat_activity), PostgreSQL's
    background processes (walwriter, checkpointer...; shared with any other database),
    and the RabbitMQ node (beam.smp, shared with any other broker user: its rate over the
    idle seconds before the drain is subtracted). The rest of the machine's busy CPU in the
    window is other work (other people's tests on a shared machine).
    """
    import test_simulation_bench as bench
    from sqlalchemy import func, select

    from ampflux_simulation.models import RunStatus, StudyRun
    from ampflux_testing.polling import eventually

    tmp = Path(tempfile.mkdtemp(prefix="ampflux-cpu-"))
    queue = f"simulation.jobs.cpu.{uuid.uuid4().hex[:8]}"
    beam = _beam_pid()
    with FreshDatabase() as url:
        env, signer, project_app, project_transport, app, engine = _tier(url, tmp, queue, {})
        db_name = url.rsplit("/", 1)[1]

        def postgres() -> tuple[dict[int, float], dict[int, float]]:
            """CPU s of this database's backends and of the server's background processes."""
            with engine.connect() as c:
                rows = c.execute(
                    text("select pid, datname, backend_type from pg_stat_activity where pid <> pg_backend_pid()")
                ).all()
            ours = {pid: s[1] for pid, dat, _ in rows if dat == db_name and (s := _stat(pid)) is not None}
            background = {pid: s[1] for pid, dat, kind in rows if dat is None and (s := _stat(pid)) is not None}
            return ours, background

        def commits() -> int:
            """Transactions committed on this database so far (the statistics lag by up to a second)."""
            with engine.connect() as c:
                c.execute(text("select pg_stat_clear_snapshot()"))
                return int(
                    c.execute(
                        text("select xact_commit from pg_stat_database where datname = :d"), {"d": db_name}
                    ).scalar_one()
                )

        def snapshot() -> dict[str, Any]:
            pg, bg = postgres()
            trees = [tree_cpu(w.pid) for w in procs]
            beam_s = (_stat(beam) or (0, 0.0, 0.0))[1] if beam else 0.0
            busy, steal = _busy_s()
            return {
                "t": time.monotonic(),
                "workers": sum(own for own, _ in trees),
                "children": sum(tree - own for own, tree in trees),
                "api": (_stat(os.getpid()) or (0, 0.0, 0.0))[1],
                "pg": pg,
                "pg_bg": bg,
                "beam": beam_s,
                "busy": busy,
                "steal": steal,
                "load": os.getloadavg()[0],
                "commits": commits(),
            }

        async def open_runs(company: uuid.UUID) -> int:
            async with app.state.db.session() as session:
                return int(
                    await session.scalar(
                        select(func.count()).where(
                            StudyRun.company_id == company,
                            StudyRun.status.in_([RunStatus.QUEUED, RunStatus.RUNNING]),
                        )
                    )
                    or 0
                )

        warm, batch = uuid.uuid4(), uuid.uuid4()

        async def drained() -> bool:
            return await open_runs(batch) == 0

        procs: list[Any] = []
        try:
            async with project_app.router.lifespan_context(project_app), app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://s", timeout=120) as client:
                    projects = await bench.create_projects(project_transport, signer, [warm, batch])
                    document = bench.meshed_network(bench.BUSES)
                    procs += [bench.start_worker(env, tmp / f"worker-{i}.log") for i in range(workers)]
                    for company, count in ((warm, 3 * workers), (batch, runs_wanted)):
                        if company == batch:
                            for w in procs:
                                w.send_signal(signal.SIGSTOP)
                        body = {"project_id": projects[company], "document": document}
                        api0 = time.process_time()
                        for _ in range(count):
                            r = await client.post("/simulations", json=body, headers=signer.headers(company))
                            assert r.status_code == 202, r.text
                        submit_api = (time.process_time() - api0) / count
                        if company == warm:
                            await bench.wait_all(app, company, timeout=600)
                    # every job published (a stopped worker may hold one it was sent before the stop)
                    await bench.all_queued(app, runs_wanted - workers, timeout=300)
                    idle0 = snapshot()
                    await asyncio.sleep(3.0)
                    s0 = snapshot()
                    for w in procs:
                        w.send_signal(signal.SIGCONT)
                    # a cheap count every 0.5 s: this poll is in the API's figure
                    await eventually(drained, timeout=1800, what="the drain", interval=0.5)
                    s1 = snapshot()
                    runs = await bench.wait_all(app, batch, timeout=60)
                    await asyncio.sleep(1.5)  # the backends report their commits within a second
                    s1["commits"] = commits() - 2  # less this poll's and wait_all's own
        finally:
            for w in procs:
                w.send_signal(signal.SIGCONT)
                w.send_signal(signal.SIGTERM)
            for w in procs:
                w.wait(timeout=30)
            engine.dispose()
            await bench.delete_queues(AMQP, queue)
    assert {r.status for r in runs} == {"succeeded"}
    n = len(runs)
    window = s1["t"] - s0["t"]
    beam_idle_rate = (s0["beam"] - idle0["beam"]) / (s0["t"] - idle0["t"])

    def pg_delta(key: str) -> float:
        return sum(cpu - s0[key].get(pid, 0.0) for pid, cpu in s1[key].items())

    parts = {
        "worker processes": s1["workers"] - s0["workers"],
        "solving children (forkserver tree)": s1["children"] - s0["children"],
        "API process (relay, gauges, listener, poll)": s1["api"] - s0["api"],
        "PostgreSQL backends of the database": pg_delta("pg"),
        "PostgreSQL background processes": pg_delta("pg_bg"),
        "RabbitMQ node (beyond its idle rate)": (s1["beam"] - s0["beam"]) - beam_idle_rate * window,
    }
    first = min(r.started_at for r in runs)
    last = max(r.finished_at for r in runs)
    drain = (last - first).total_seconds()
    solve = statistics.fmean(r.solve_seconds or 0.0 for r in runs)
    total = sum(parts.values())
    busy = s1["busy"] - s0["busy"]
    print(f"{n} runs, {workers} worker(s): drain {drain:.2f} s, {n / drain:.2f} runs/s, mean solve {solve:.3f} s")
    print("CPU s per run:")
    for name, cpu in parts.items():
        print(f"  {name:45s} {cpu / n:.4f}")
    worker_side = (parts["worker processes"] + parts["solving children (forkserver tree)"]) / n
    print(f"  {'W (worker + children)':45s} {worker_side:.4f}")
    print(f"  {'I (everyone else)':45s} {total / n - worker_side:.4f}")
    print(f"  {'total':45s} {total / n:.4f}  -> bound on 2 CPUs: {2 / (total / n):.2f} runs/s")
    print(
        f"machine busy {busy / n:.4f} s per run in the window ({busy / window:.2f} CPUs busy of 2,"
        f" unattributed {(busy - total) / window:.2f} CPUs), steal {(s1['steal'] - s0['steal']) / window:.2f} CPUs;"
        f" RabbitMQ idle rate {beam_idle_rate:.3f} CPU; API submit {submit_api:.4f} s per run (before the window);"
        f" load {s0['load']:.1f} -> {s1['load']:.1f}"
    )
    print(
        f"PostgreSQL transactions per run {(s1['commits'] - s0['commits']) / n:.1f}"
        f" (all clients of the database, polls included)"
    )


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "steps"
    if mode == "steps":
        asyncio.run(steps(int(sys.argv[2]) if len(sys.argv) > 2 else 20))
    elif mode == "drain":
        asyncio.run(drain(int(sys.argv[2]) if len(sys.argv) > 2 else 30))
    elif mode == "account":
        asyncio.run(
            account(int(sys.argv[2]) if len(sys.argv) > 2 else 40, int(sys.argv[3]) if len(sys.argv) > 3 else 1)
        )
    else:
        sys.exit("usage: simulation_worker_cpu.py steps|drain [N] | account [RUNS] [WORKERS]")
