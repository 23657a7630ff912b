"""The README's recipe, end to end: the auth service registers a user, the project service
learns of it once. Embedded (SQLite files + in-process bus) and real (PostgreSQL + RabbitMQ)."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Column, MetaData, String, Table, Uuid, select

from ampflux_shared.db import Database, new_metadata
from ampflux_shared.events import (
    EventEnvelope,
    EventTables,
    Inbox,
    OutboxRelay,
    UserRegistered,
    consume_once,
    create_bus,
    get_in_process_bus,
    make_event,
    parse_payload,
)


def project_schema() -> tuple[MetaData, EventTables, Table]:
    metadata = new_metadata()
    tables = EventTables(metadata)
    members = Table("directory", metadata, Column("user_id", Uuid, primary_key=True), Column("email", String(200)))
    return metadata, tables, members


@pytest.fixture(params=["embedded", pytest.param("real", marks=[pytest.mark.postgres, pytest.mark.rabbitmq])])
def stack(request, tmp_path):
    """(auth database URL, project database URL, amqp URL or "", extra bus options)."""
    if request.param == "embedded":
        return f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}", f"sqlite+aiosqlite:///{tmp_path / 'project.db'}", "", {}
    make_db, rabbit = request.getfixturevalue("make_postgres_database"), request.getfixturevalue("rabbit")
    return make_db(), make_db(), rabbit.url, {"exchange": rabbit.exchange}


async def test_a_registered_user_reaches_the_project_service_once(stack, h, request):
    auth_url, project_url, amqp_url, bus_options = stack
    tag = uuid.uuid4().hex[:8]
    queue = f"test.{tag}.project"
    if amqp_url:
        request.getfixturevalue("rabbit").queues += [queue, f"{queue}.dlq"]

    # auth service
    auth_registry, auth_metadata = CollectorRegistry(), new_metadata()
    auth_tables = EventTables(auth_metadata)
    auth_db = Database(auth_url)
    async with auth_db.engine.begin() as conn:
        await conn.run_sync(auth_metadata.create_all)
    auth_bus = create_bus(amqp_url, registry=auth_registry, **bus_options)
    await auth_bus.start()
    relay = OutboxRelay(auth_db, auth_bus, auth_tables, registry=auth_registry, poll_interval=0.05)
    await relay.start()

    # project service
    project_registry = CollectorRegistry()
    project_metadata, project_tables, directory = project_schema()
    project_db = Database(project_url)
    async with project_db.engine.begin() as conn:
        await conn.run_sync(project_metadata.create_all)
    project_bus = create_bus(amqp_url, registry=project_registry, **bus_options)
    await project_bus.start()

    async def on_user_registered(session, envelope: EventEnvelope) -> None:
        user = parse_payload(envelope)
        assert isinstance(user, UserRegistered)
        await session.execute(directory.insert().values(user_id=user.user_id, email=user.email))

    await project_bus.subscribe(
        queue,
        ["auth.user.registered"],
        consume_once(project_db, Inbox(project_tables), "project.directory", on_user_registered),
    )

    try:
        # A request in the auth service: the state change and its event in one transaction.
        user = UserRegistered(
            user_id=uuid.uuid4(), company_id=uuid.uuid4(), email="ada@example.com", name="Ada", roles=["engineer"]
        )
        event = make_event("auth.user.registered", user, producer="auth", company_id=user.company_id, request_id="r-42")
        async with auth_db.session() as session:
            await relay.outbox.add(session, event)

        async def in_directory() -> bool:
            async with project_db.session() as session:
                return (await session.execute(select(directory.c.email))).scalars().all() == ["ada@example.com"]

        await h.eventually(in_directory, what="the user in the project service's directory")
        await h.eventually(
            lambda: 'outcome="ok"} 1.0' in generate_latest(project_registry).decode(), what="the consumed count"
        )
        # Each service counted into its own registry.
        assert (
            'ampflux_events_published_total{event_type="auth.user.registered"} 1.0'
            in generate_latest(auth_registry).decode()
        )
        assert "ampflux_events_published_total{" not in generate_latest(project_registry).decode()
        await h.eventually(lambda: relay.metrics.outbox_pending._value.get() == 0, what="the backlog gauge")
        await project_bus.ping()
        await auth_bus.ping()
    finally:
        await relay.stop()
        await auth_bus.stop()
        await project_bus.stop()
        await auth_db.dispose()
        await project_db.dispose()
        if not amqp_url:
            get_in_process_bus().broker.delete_queue(queue)
