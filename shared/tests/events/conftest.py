"""Fixtures of the event tests: databases with the outbox/inbox schema, RabbitMQ names
unique per test (cleaned up afterwards), and a cuttable TCP proxy in front of RabbitMQ."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import aio_pika
import pytest

from ampflux_shared.db import Database
from ampflux_shared.events.rabbitmq import RabbitMQBus
from ampflux_testing import tcp_proxy as tcp_proxy_module


def _load(name: str):
    # Tests run in importlib mode without __init__.py, so sibling helpers are loaded by path.
    module_name = f"ampflux_shared_events_tests_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


helpers = _load("helpers")


@pytest.fixture
def h():
    """The helper module (eventually, schema, factories)."""
    return helpers


@pytest.fixture
def schema():
    return helpers.make_schema()


@pytest.fixture
async def sqlite_db(tmp_path, schema):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
    await helpers.create_schema(database, schema)
    yield database
    await database.dispose()


@pytest.fixture
async def pg_db(reusable_postgres_database, schema):
    # The session's database for these tables, emptied for each test (root conftest).
    database = Database(reusable_postgres_database("events"))
    await helpers.create_schema(database, schema)
    yield database
    await database.dispose()


class Rabbit:
    """Makes buses on a per-test exchange and remembers every queue name to delete it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tag = uuid.uuid4().hex[:10]
        self.exchange = f"test.{self.tag}.events"
        self.queues: list[str] = []
        self.buses: list[RabbitMQBus] = []

    def queue(self, label: str) -> str:
        name = f"test.{self.tag}.{label}"
        self.queues += [name, f"{name}.dlq"]
        return name

    async def bus(self, url: str | None = None, **options) -> RabbitMQBus:
        options = {"publish_timeout": 2.0, "retry_delay": 0.02, "reconnect_interval": 0.2, "stop_grace": 2.0} | options
        bus = RabbitMQBus(url or self.url, exchange=self.exchange, **options)
        await bus.start()
        self.buses.append(bus)
        return bus

    async def cleanup(self) -> None:
        for bus in self.buses:
            await bus.stop()
        await _delete_topology(self.url, self.queues, [self.exchange, f"{self.exchange}.dlx"])


async def _delete_topology(url: str, queues: list[str], exchanges: list[str]) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        underlay = await channel.get_underlay_channel()
        for name in queues:
            await underlay.queue_delete(name)
        for name in exchanges:
            await underlay.exchange_delete(name)


@pytest.fixture
async def rabbit(amqp_url):
    r = Rabbit(amqp_url)
    yield r
    await r.cleanup()


@pytest.fixture
async def tcp_proxy(amqp_url):
    """A proxy to the test RabbitMQ; `proxy.url` is the AMQP URL through it."""
    target = urlparse(amqp_url)
    proxy = tcp_proxy_module.TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    await proxy.open()
    netloc = f"{target.username or 'guest'}:{target.password or 'guest'}@127.0.0.1:{proxy.port}"
    proxy.url = urlunparse(target._replace(netloc=netloc))
    yield proxy
    await proxy.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, schema):
    """The same test on the embedded SQLite file and on a fresh PostgreSQL database."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")
