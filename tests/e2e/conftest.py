"""The real stack for end-to-end tests: auth service and gateway as separate processes,
on a fresh PostgreSQL database and the real RabbitMQ broker."""

from __future__ import annotations

import asyncio
import json
import uuid

import aio_pika
import httpx
import pytest
from e2e.stack import JWKS_QUOTA, LOGIN_QUOTA, ServiceProcess, free_port
from sqlalchemy import create_engine, text


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


@pytest.fixture(scope="session")
def stack(e2e_databases, amqp_url, tmp_path_factory):
    """auth, project and gateway as separate processes, started once for the e2e session."""
    logs = tmp_path_factory.mktemp("e2e-logs")
    auth_port, project_port, sim_port, gw_port = free_port(), free_port(), free_port(), free_port()
    auth = ServiceProcess(
        "auth",
        "ampflux_auth",
        auth_port,
        {
            "AUTH_PORT": str(auth_port),
            "AUTH_DATABASE_URL": e2e_databases("auth"),
            "AUTH_AMQP_URL": amqp_url,
            "AUTH_ENVIRONMENT": "test",
            "AUTH_TRUSTED_PROXY_COUNT": "1",
        },
        logs / "auth.log",
    ).start()
    jwks_url = f"{auth.url}/.well-known/jwks.json"
    project_queue = f"e2e-project-{uuid.uuid4().hex[:8]}"
    project = ServiceProcess(
        "project",
        "ampflux_project",
        project_port,
        {
            "PROJECT_PORT": str(project_port),
            "PROJECT_DATABASE_URL": e2e_databases("project"),
            "PROJECT_AMQP_URL": amqp_url,
            "PROJECT_JWKS_URL": jwks_url,
            "PROJECT_ENVIRONMENT": "test",
            "PROJECT_EVENTS_QUEUE": project_queue,
            "PROJECT_SIMULATION_URL": f"http://127.0.0.1:{sim_port}",
        },
        logs / "project.log",
    )
    jobs_queue = f"e2e-simulation-jobs-{uuid.uuid4().hex[:8]}"
    sim_env = {
        "SIMULATION_PORT": str(sim_port),
        "SIMULATION_DATABASE_URL": e2e_databases("simulation"),
        "SIMULATION_AMQP_URL": amqp_url,
        "SIMULATION_JWKS_URL": jwks_url,
        "SIMULATION_PROJECT_URL": f"http://127.0.0.1:{project_port}",
        "SIMULATION_JOBS_QUEUE": jobs_queue,
        "SIMULATION_ENVIRONMENT": "test",
    }
    simulation = ServiceProcess("simulation", "ampflux_simulation", sim_port, sim_env, logs / "simulation.log")
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
    started = [auth]
    try:
        for svc in (project, simulation, *workers):
            started.append(svc.start())
    except Exception:
        for svc in reversed(started):
            svc.stop()
        raise
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
            "public_paths": ["/auth/register", "/auth/login", "/auth/refresh"],
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
        {"prefix": "/simulations", "service": "simulation", "upstreams": [simulation.url], "timeout_s": 60},
    ]
    gateway = ServiceProcess(
        "gateway",
        "ampflux_gateway",
        gw_port,
        {
            "GATEWAY_PORT": str(gw_port),
            "GATEWAY_ROUTES": json.dumps(routes),
            "GATEWAY_JWKS_URL": jwks_url,
            "GATEWAY_ENVIRONMENT": "test",
            # Revocation takes effect once the cached exchange expires; keep the test short.
            "GATEWAY_API_KEY_CACHE_TTL_S": "3",
        },
        logs / "gateway.log",
    )
    try:
        started.append(gateway.start())
    except Exception:
        for svc in reversed(started):
            svc.stop()
        raise
    yield {
        "auth": auth,
        "project": project,
        "simulation": simulation,
        "workers": workers,
        "gateway": gateway,
        "amqp_url": amqp_url,
    }
    for svc in reversed(started):
        svc.stop()
    asyncio.run(_delete_queues(amqp_url, [project_queue, f"{project_queue}.dlq", jobs_queue, f"{jobs_queue}.dlq"]))


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
