"""The stack the fault scenarios break: its own PostgreSQL and RabbitMQ, and every process.

Auth, project, the simulation API, two solver workers and the gateway run as separate
processes (`ampflux_testing.processes`) on a PostgreSQL and a RabbitMQ node of the
stack's own (`ampflux_testing.instances`), so a scenario may kill the broker or crash the
database without touching anything it did not start. Workers run in sessions of their own,
as under systemd or a shell, so a signal can reach a worker's whole process group.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, pool

from ampflux_testing.instances import OwnPostgres, OwnRabbitMQ
from ampflux_testing.processes import ServiceProcess, free_port, start_together, stop_together

# Long enough to catch a job mid-solve, short enough for a scenario to solve dozens.
SOLVE_DELAY_S = 1.5
DELIVERY_LIMIT = 3


class WorkerProcess(ServiceProcess):
    """A solver worker; `FaultStack.new_worker` starts it in a session (and process group) of its own."""

    def signal(self, sig: signal.Signals, *, group: bool = False) -> None:
        assert self.proc is not None
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)


@dataclass
class FaultStack:
    root: Path
    postgres: OwnPostgres
    rabbitmq: OwnRabbitMQ
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)
    database_urls: dict[str, str] = field(default_factory=dict)
    jobs_queue: str = "simulation.jobs"
    _engines: dict[str, Engine] = field(default_factory=dict)

    @property
    def gateway_url(self) -> str:
        return self.services["gateway"].url

    def engine(self, service: str) -> Engine:
        """A synchronous engine on a service's database, for the scenarios' own accounting."""
        if service not in self._engines:
            self._engines[service] = create_engine(self.database_urls[service], poolclass=pool.NullPool)
        return self._engines[service]

    def worker_env(self) -> dict[str, str]:
        sim = self.services["simulation"].env
        return {
            **{k: v for k, v in sim.items() if k != "SIMULATION_PORT"},
            "SIMULATION_MIGRATE_ON_START": "false",
            "SIMULATION_TEST_SOLVE_DELAY_S": str(SOLVE_DELAY_S),
            "SIMULATION_CANCEL_POLL_S": "0.2",
            "SIMULATION_LOG_LEVEL": "INFO",
        }

    def new_worker(self, **env: str) -> WorkerProcess:
        n = len(self.workers) + 1
        worker = WorkerProcess(
            f"worker-{n}", "ampflux_simulation.worker", 0, {**self.worker_env(), **env},
            self.root / f"worker-{n}.log", ready_log="consuming", popen_options={"start_new_session": True},
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def live_workers(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.proc is not None and w.proc.poll() is None]

    def worker_by_id(self, worker_id: str) -> WorkerProcess | None:
        """The live worker whose id (`host:pid`) a run names."""
        pid = worker_id.rsplit(":", 1)[-1]
        return next((w for w in self.live_workers() if str(w.pid) == pid), None)

    def top_up_workers(self, count: int = 2, timeout_s: float = 120.0, **env: str) -> None:
        """Back to `count` live workers (scenarios kill some) before the next scenario."""
        fresh = [self.new_worker(**env).spawn() for _ in range(count - len(self.live_workers()))]
        for worker in fresh:
            worker.wait_ready(timeout_s)

    def replace_workers(self, count: int = 2, **env: str) -> None:
        """Stop every worker (gracefully) and start `count` new ones with `env` on top."""
        for worker in self.live_workers():
            worker.stop()
        self.top_up_workers(count, **env)

    def worker_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.root.glob("worker-*.log")))

    def log_tails(self, lines: int = 15) -> str:
        def tail(svc: ServiceProcess) -> str:
            return "\n".join(line[:300] for line in svc.log_tail(lines).splitlines())

        return "\n".join(f"--- {s.name}\n{tail(s)}" for s in [*self.services.values(), *self.workers])

    def stop(self) -> None:
        # All at once: they drain in parallel, so stopping takes the slowest drain, not the sum.
        stop_together(p.proc for p in [*self.workers, *self.services.values()] if p.proc is not None)
        for engine in self._engines.values():
            engine.dispose()


def start_stack(keep: bool = False) -> FaultStack:
    """Own instances first, then auth (everyone reads its JWKS), then everything else at once."""
    root = Path(tempfile.mkdtemp(prefix="ampflux-faults-"))
    root.chmod(0o711)  # PostgreSQL runs as its own user (under root) and must reach its folder
    postgres = OwnPostgres(root / "postgres")
    postgres.root.mkdir()
    rabbitmq = OwnRabbitMQ(root / "rabbitmq")
    rabbitmq.root.mkdir()
    stack = FaultStack(root, postgres, rabbitmq, jobs_queue=f"simulation.jobs.faults.{uuid.uuid4().hex[:6]}")
    try:
        # The broker boots while PostgreSQL is made and started: each takes seconds on its own.
        rabbitmq.launch()
        postgres.init().start()
        for name in ("auth", "project", "simulation"):
            stack.database_urls[name] = postgres.create_database(f"ampflux_{name}")
        rabbitmq.wait_ready()
        _start_services(stack)
    except BaseException:
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: FaultStack) -> None:
    """Every process, then the instances, by the PIDs this stack started."""
    try:
        stack.stop()
    finally:
        stack.rabbitmq.stop()
        stack.postgres.stop("fast")
        if os.environ.get("FAULTS_KEEP_LOGS"):
            print(f"fault stack logs kept in {stack.root}")
        else:
            stack.postgres.destroy()
            stack.rabbitmq.destroy()
            time.sleep(0.1)
            subprocess.run(["rm", "-rf", str(stack.root)], check=False)


def _start_services(stack: FaultStack) -> None:
    amqp, root = stack.rabbitmq.url, stack.root
    port = {name: free_port() for name in ("auth", "project", "simulation", "gateway")}
    url = {name: f"http://127.0.0.1:{p}" for name, p in port.items()}
    auth = ServiceProcess(
        "auth", "ampflux_auth", port["auth"],
        {
            "AUTH_PORT": str(port["auth"]),
            "AUTH_DATABASE_URL": stack.database_urls["auth"],
            "AUTH_AMQP_URL": amqp,
            "AUTH_ENVIRONMENT": "test",
            "AUTH_TRUSTED_PROXY_COUNT": "1",
            "AUTH_ACCESS_TOKEN_TTL_S": "3600",  # a scenario outlives the default 15 minutes
            # Cheap argon2id, as in the e2e stack: the scenarios are about faults, not the hash.
            "AUTH_ARGON2_MEMORY_KIB": "1024",
            "AUTH_ARGON2_TIME_COST": "1",
            "AUTH_ARGON2_PARALLELISM": "1",
        },
        root / "auth.log",
    )  # fmt: skip
    stack.services["auth"] = auth
    auth.start(180)
    jwks = f"{auth.url}/.well-known/jwks.json"
    project = ServiceProcess(
        "project", "ampflux_project", port["project"],
        {
            "PROJECT_PORT": str(port["project"]),
            "PROJECT_DATABASE_URL": stack.database_urls["project"],
            "PROJECT_AMQP_URL": amqp,
            "PROJECT_JWKS_URL": jwks,
            "PROJECT_ENVIRONMENT": "test",
        },
        root / "project.log",
    )  # fmt: skip
    simulation = ServiceProcess(
        "simulation", "ampflux_simulation", port["simulation"],
        {
            "SIMULATION_PORT": str(port["simulation"]),
            "SIMULATION_DATABASE_URL": stack.database_urls["simulation"],
            "SIMULATION_AMQP_URL": amqp,
            "SIMULATION_JWKS_URL": jwks,
            "SIMULATION_PROJECT_URL": url["project"],
            "SIMULATION_JOBS_QUEUE": stack.jobs_queue,
            "SIMULATION_JOB_DELIVERY_LIMIT": str(DELIVERY_LIMIT),
            "SIMULATION_JOB_RETRY_DELAY_S": "0.2",
            "SIMULATION_ENVIRONMENT": "test",
        },
        root / "simulation.log",
    )  # fmt: skip
    routes = [
        {"prefix": "/auth", "service": "auth", "upstreams": [auth.url],
         "public_paths": ["/auth/register", "/auth/login", "/auth/refresh", "/auth/logout"]},
        {"prefix": "/projects", "service": "project", "upstreams": [project.url]},
        {"prefix": "/circuits", "service": "project", "upstreams": [project.url]},
        {"prefix": "/simulations", "service": "simulation", "upstreams": [simulation.url], "timeout_s": 60},
    ]  # fmt: skip
    gateway = ServiceProcess(
        "gateway", "ampflux_gateway", port["gateway"],
        {
            "GATEWAY_PORT": str(port["gateway"]),
            "GATEWAY_ROUTES": json.dumps(routes),
            "GATEWAY_JWKS_URL": jwks,
            "GATEWAY_ENVIRONMENT": "test",
        },
        root / "gateway.log",
    )  # fmt: skip
    stack.services.update(project=project, simulation=simulation, gateway=gateway)
    # The API migrates its database; workers start once it has (they do not migrate).
    start_together([project, simulation, gateway], timeout_s=180)
    workers = [stack.new_worker() for _ in range(2)]
    start_together(list(workers), timeout_s=180)
