"""The real stack for end-to-end tests: every service and the gateway as separate processes,
on fresh PostgreSQL databases and the real RabbitMQ broker."""

from __future__ import annotations

import asyncio
import importlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import aio_pika
import httpx
import pytest
from e2e.flows import bearer, register_and_login
from e2e.stack import JWKS_QUOTA, LOGIN_QUOTA, ServiceProcess, StackContext, free_port, start_together
from sqlalchemy import create_engine, text

from ampflux_testing.group_resources import GroupResource
from ampflux_testing.processes import stop_together


@pytest.fixture(scope="session")
def e2e_databases(pg_admin_url):
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    names: dict[str, str] = {}

    def make(service: str) -> str:
        name = f"ampflux_e2e_{service}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        names[service] = name
        return pg_admin_url.rsplit("/", 1)[0] + "/" + name

    yield make
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _members() -> list[ModuleType]:
    """The services that join the stack through their own `tests/e2e/stack_<name>.py` module
    (a `NAME` and a `member(ctx) -> StackMember`), so adding a service touches no other file."""
    here = Path(__file__).parent
    return [importlib.import_module(f"e2e.{p.stem}") for p in sorted(here.glob("stack_*.py"))]


STACK: GroupResource[dict] = GroupResource("stack")


@pytest.fixture(scope="module")  # module fixtures (a crew of users, one of everything listed) build on it
def stack(e2e_databases, amqp_url, tmp_path_factory) -> dict:
    """Every service as a separate process behind the real gateway: started by the first e2e
    test and stopped after the last (the e2e tests run one after another on one worker)."""
    return STACK.get(lambda: _run_stack(e2e_databases, amqp_url, tmp_path_factory))


def _run_stack(e2e_databases, amqp_url, tmp_path_factory) -> Iterator[dict]:
    """Auth starts first (every other process reads its JWKS); everything else starts together."""
    logs = tmp_path_factory.mktemp("e2e-logs")
    members = _members()
    urls = {
        name: f"http://127.0.0.1:{free_port()}"
        for name in ["auth", "project", "simulation", "gateway", *(m.NAME for m in members)]
    }
    port = {name: url.rsplit(":", 1)[1] for name, url in urls.items()}
    auth = ServiceProcess(
        "auth",
        "ampflux_auth",
        int(port["auth"]),
        {
            "AUTH_PORT": port["auth"],
            "AUTH_DATABASE_URL": e2e_databases("auth"),
            "AUTH_AMQP_URL": amqp_url,
            "AUTH_ENVIRONMENT": "test",
            "AUTH_TRUSTED_PROXY_COUNT": "1",
            # Cheap argon2id, as in auth's own tests: every test registers and logs in users,
            # and the deployed cost (64 MiB, 3 passes, 4 lanes) is ~0.4 s of CPU a register and
            # login; these tests are about the flows through the gateway, not the hash's cost.
            "AUTH_ARGON2_MEMORY_KIB": "1024",
            "AUTH_ARGON2_TIME_COST": "1",
            "AUTH_ARGON2_PARALLELISM": "1",
        },
        logs / "auth.log",
    ).start(timeout_s=180)  # a deadline like the rest of the stack's, not a wait
    jwks_url = f"{auth.url}/.well-known/jwks.json"
    ctx = StackContext(
        logs=logs, amqp_url=amqp_url, jwks_url=jwks_url, auth_url=auth.url, urls=urls, make_database=e2e_databases
    )
    project_queue = f"e2e-project-{uuid.uuid4().hex[:8]}"
    project = ServiceProcess(
        "project",
        "ampflux_project",
        int(port["project"]),
        {
            "PROJECT_PORT": port["project"],
            "PROJECT_DATABASE_URL": e2e_databases("project"),
            "PROJECT_AMQP_URL": amqp_url,
            "PROJECT_JWKS_URL": jwks_url,
            "PROJECT_ENVIRONMENT": "test",
            "PROJECT_EVENTS_QUEUE": project_queue,
        },
        logs / "project.log",
    )
    jobs_queue = f"e2e-simulation-jobs-{uuid.uuid4().hex[:8]}"
    ctx.queues += [project_queue, f"{project_queue}.dlq", jobs_queue, f"{jobs_queue}.dlq", f"{jobs_queue}.parking"]
    sim_env = {
        "SIMULATION_PORT": port["simulation"],
        "SIMULATION_DATABASE_URL": e2e_databases("simulation"),
        "SIMULATION_AMQP_URL": amqp_url,
        "SIMULATION_JWKS_URL": jwks_url,
        "SIMULATION_PROJECT_URL": urls["project"],
        "SIMULATION_JOBS_QUEUE": jobs_queue,
        "SIMULATION_ENVIRONMENT": "test",
    }
    simulation = ServiceProcess(
        "simulation", "ampflux_simulation", int(port["simulation"]), sim_env, logs / "simulation.log"
    )
    workers = [
        ServiceProcess(
            f"worker-{i}",
            "ampflux_simulation.worker",
            0,
            {**sim_env, "SIMULATION_MIGRATE_ON_START": "false"},
            logs / f"worker-{i}.log",
            ready_log="consuming",
        )
        for i in (1, 2)
    ]
    login_limit = {"policy": "login", "quota": LOGIN_QUOTA, "window_s": 60}
    routes = [
        {
            "prefix": "/auth/login",
            "service": "auth",
            "upstreams": [auth.url],
            "public": True,
            "rate_limit": login_limit,
        },
        {
            "prefix": "/auth",
            "service": "auth",
            "upstreams": [auth.url],
            "public_paths": ["/auth/register", "/auth/login", "/auth/refresh", "/auth/logout"],
            "internal_paths": ["/auth/api-keys/exchange"],
            "rate_limit": {"policy": "auth-default", "quota": 1000, "window_s": 60},
        },
        {
            "prefix": "/.well-known/jwks.json",
            "service": "auth",
            "upstreams": [auth.url],
            "public": True,
            "rate_limit": {"policy": "jwks", "quota": JWKS_QUOTA, "window_s": 60},
        },
        {"prefix": "/projects", "service": "project", "upstreams": [project.url]},
        {"prefix": "/circuits", "service": "project", "upstreams": [project.url]},
        {"prefix": "/circuits/*/simulate", "service": "simulation", "upstreams": [simulation.url], "timeout_s": 60},
        {"prefix": "/simulations", "service": "simulation", "upstreams": [simulation.url], "timeout_s": 60},
    ]
    others: dict[str, ServiceProcess] = {}
    for module in members:
        member = module.member(ctx)
        routes += member.routes
        others.update({svc.name: svc for svc in member.processes})
    gateway = ServiceProcess(
        "gateway",
        "ampflux_gateway",
        int(port["gateway"]),
        {
            "GATEWAY_PORT": port["gateway"],
            "GATEWAY_ROUTES": json.dumps(routes),
            "GATEWAY_JWKS_URL": jwks_url,
            "GATEWAY_ENVIRONMENT": "test",
        },
        logs / "gateway.log",
    )
    together = [project, simulation, *workers, *others.values(), gateway]
    try:
        start_together(together)
    except Exception:
        auth.stop()
        raise
    yield {
        "auth": auth,
        "project": project,
        "simulation": simulation,
        "workers": workers,
        **others,
        "gateway": gateway,
        "amqp_url": amqp_url,
    }
    # All at once: they drain in parallel, so stopping takes the slowest drain, not the sum.
    stop_together(svc.proc for svc in [auth, *together] if svc.proc is not None)
    asyncio.run(_delete_queues(amqp_url, ctx.queues))


async def _delete_queues(amqp_url: str, names: list[str]) -> None:
    conn = await aio_pika.connect(amqp_url)
    async with conn:
        ch = await conn.channel()
        for name in names:
            await ch.queue_delete(name)


@pytest.fixture
def gw(stack):
    with httpx.Client(base_url=stack["gateway"].url, timeout=15) as client:
        yield client


@pytest.fixture
def engineer(gw) -> dict:
    """A freshly registered company's first user (an admin and engineer), as bearer headers."""
    _, tokens = register_and_login(gw)
    return bearer(tokens)


@pytest.fixture
def provider(stack):
    """The AI stack's local OpenAI-compatible provider, its script and records cleared."""
    from e2e import stack_ai

    fake = stack_ai.PROVIDER
    assert fake is not None
    fake._script.clear()
    fake.requests.clear()
    return fake
