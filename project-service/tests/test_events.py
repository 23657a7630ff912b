"""Events through the outbox to RabbitMQ, and `auth.user.deactivated` handled exactly once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aio_pika
import pytest
from sqlalchemy import select

from ampflux_project.models import event_tables
from ampflux_shared.backoff import Backoff
from ampflux_shared.events import EventEnvelope, PublishError, UserDeactivated, make_event
from ampflux_shared.events.rabbitmq import RabbitMQBus
from ampflux_testing.event_listener import EventListener, listen_for_events
from ampflux_testing.polling import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq]


@pytest.fixture
async def rabbit_settings(settings, amqp_url) -> AsyncIterator:
    """Settings on RabbitMQ with a queue of this test's own, deleted afterwards."""
    queue = f"project-service-test-{uuid.uuid4().hex[:8]}"
    settings.amqp_url = amqp_url
    settings.events_queue = queue
    yield settings
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}.dlq"):
            await channel.queue_delete(name)


@pytest.fixture
async def rabbit_client(rabbit_settings, request):
    async for client in request.getfixturevalue("client_factory")(rabbit_settings):
        yield client


@pytest.fixture
async def project_events(amqp_url) -> AsyncIterator[EventListener]:
    """Every `project.*` event the broker routes while the test runs, in arrival order."""
    async with listen_for_events(amqp_url, "project.#") as events:
        yield events


async def outbox_rows(client, event_type: str):
    async with client.app.state.db.session() as session:
        t = event_tables.outbox
        return (await session.execute(select(t).where(t.c.type == event_type))).all()


async def test_deleting_a_project_writes_its_event_once_and_it_is_delivered(rabbit_client, project_events, company):
    client = rabbit_client
    owner = company.user()
    r = await client.post("/projects/", json={"name": "Short-lived"}, headers=owner.headers)
    project_id = r.json()["id"]
    assert (await client.delete(f"/projects/{project_id}", headers=owner.headers)).status_code == 204
    # a second delete finds nothing and writes nothing
    assert (await client.delete(f"/projects/{project_id}", headers=owner.headers)).status_code == 404

    rows = await outbox_rows(client, "project.project.deleted")
    assert len(rows) == 1
    assert rows[0].payload == {"project_id": project_id, "company_id": str(company.id)}

    events = await project_events.wait_for(lambda e: e.payload.get("project_id") == project_id, count=3)
    assert [e.type for e in events] == ["project.project.created", "project.member.added", "project.project.deleted"]
    deleted = events[-1]
    assert deleted.actor_id == owner.id and deleted.company_id == company.id and deleted.producer == "project"
    assert deleted.request_id and deleted.id == rows[0].id
    assert await eventually(lambda: _published(client, "project.project.deleted"))


async def _published(client, event_type: str) -> bool:
    return all(row.published_at is not None for row in await outbox_rows(client, event_type))


async def test_version_created_event_carries_the_content_hash(rabbit_client, project_events, company, api_for):
    api = api_for(rabbit_client)
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())

    [event] = await project_events.wait_for(
        lambda e: e.type == "project.circuit_version.created" and e.payload["project_id"] == project["id"]
    )
    assert event.payload["circuit_id"] == circuit["id"] and event.payload["number"] == 1
    assert event.payload["content_sha256"] == circuit["version"]["content_hash"]


async def test_deactivated_user_leaves_every_project_once_even_when_redelivered(
    rabbit_client, rabbit_settings, project_events, company, api_for
):
    client = rabbit_client
    api = api_for(client)
    leaving, senior_editor, junior_editor, viewer = company.user(), company.user(), company.user(), company.user()
    only_owned = await api.create_project(leaving, "Owned by the leaver")
    await api.add_member(only_owned, leaving, senior_editor, "editor")
    await api.add_member(only_owned, leaving, junior_editor, "editor")
    await api.add_member(only_owned, leaving, viewer, "viewer")
    shared = await api.create_project(senior_editor, "Someone else's")
    await api.add_member(shared, senior_editor, leaving, "viewer")
    alone = await api.create_project(leaving, "Nobody else")

    envelope = make_event(
        "auth.user.deactivated",
        UserDeactivated(user_id=leaving.id, company_id=company.id),
        producer="auth",
        company_id=company.id,
    )
    publisher = RabbitMQBus(rabbit_settings.amqp_url)
    await publisher.start()
    try:
        assert await publisher.publish(envelope)

        def removed(e: EventEnvelope) -> bool:
            return e.type == "project.member.removed" and e.payload["user_id"] == str(leaving.id)

        await project_events.wait_for(removed, count=3)

        # The user is let back into one project; then the broker redelivers the old event.
        # Were it handled again, they would be removed again: the inbox must prevent that.
        await api.add_member(shared, senior_editor, leaving, "viewer")
        assert await publisher.publish(envelope)
        await eventually(lambda: _consumed(client, "auth.user.deactivated", 2))
    finally:
        await publisher.stop()
    assert len(project_events.matching(removed)) == 3

    admin = company.user("admin")
    roles = await _roles(client, only_owned, admin)
    assert roles == {str(senior_editor.id): "owner", str(junior_editor.id): "editor", str(viewer.id): "viewer"}
    assert await _roles(client, shared, admin) == {str(senior_editor.id): "owner", str(leaving.id): "viewer"}
    # a project with no one left stays in the company, managed by its admins
    assert await _roles(client, alone, admin) == {}
    assert (await client.get(f"/projects/{alone['id']}", headers=admin.headers)).status_code == 200

    audit = (
        await client.get(f"/projects/{only_owned['id']}/audit/", params={"page_size": 100}, headers=admin.headers)
    ).json()
    system = [(e["action"], e["details"].get("reason")) for e in audit["items"] if e["actor_id"] is None]
    assert sorted(system) == [("member.removed", "user_deactivated"), ("member.role_changed", "last_owner_deactivated")]


async def _roles(client, project: dict, user) -> dict[str, str]:
    r = await client.get(f"/projects/{project['id']}/members/", headers=user.headers)
    return {m["user_id"]: m["role"] for m in r.json()["items"]}


async def _consumed(client, event_type: str, count: int) -> bool:
    text = (await client.get("/metrics")).text
    line = f'ampflux_events_consumed_total{{event_type="{event_type}",outcome="ok"}} {float(count)}'
    return line in text


async def test_events_written_while_the_broker_is_down_go_out_once_it_is_back(
    rabbit_client, project_events, company, monkeypatch
):
    client = rabbit_client
    bus = client.app.state.bus
    relay = client.app.state.relay

    async def broker_down(envelope):
        raise PublishError("broker unreachable (simulated)")

    monkeypatch.setattr(bus, "publish", broker_down)
    # The relay's backoff (from its 0.5 s poll interval up to 30 s) made the outage and the
    # recovery a wait of seconds: short here, so it retries many times while the broker is
    # away and goes out as soon as it is back.
    monkeypatch.setattr(relay, "backoff", Backoff(base_s=0.02, max_s=0.1))
    owner = company.user()
    # Requests succeed regardless: the events wait in the outbox.
    r = await client.post("/projects/", json={"name": "Written during outage"}, headers=owner.headers)
    project_id = r.json()["id"]
    assert (await client.delete(f"/projects/{project_id}", headers=owner.headers)).status_code == 204

    async def failed_attempts() -> int:
        [row] = await outbox_rows(client, "project.project.created")
        return row.attempts if row.last_error else 0

    # The relay tried, and failed, again and again: nothing went out, nothing was marked sent.
    def of_the_project(e: EventEnvelope) -> bool:
        return e.payload.get("project_id") == project_id

    await eventually(lambda: _at_least_value(failed_attempts, 3), what="three failed relay attempts")
    assert not project_events.matching(of_the_project)
    assert not await _published(client, "project.project.created")
    assert not await _published(client, "project.project.deleted")

    monkeypatch.undo()  # the broker is back

    await project_events.wait_for(of_the_project, count=3, timeout=40)
    await eventually(lambda: _published(client, "project.project.deleted"))
    # Nothing more to come: a marker published on the relay's own channel after every event was
    # confirmed arrives after anything the relay sent (the broker keeps one channel's order).
    marker = EventEnvelope(
        id=uuid.uuid4(), type="project.test.marker", version=1, time=datetime.now(UTC), producer="test", payload={}
    )
    assert await bus.publish(marker)
    await project_events.wait_for(lambda e: e.id == marker.id, what="the marker")
    assert [e.type for e in project_events.matching(of_the_project)] == [
        "project.project.created",
        "project.member.added",
        "project.project.deleted",
    ]


async def _at_least_value(getter, count: int) -> bool:
    return await getter() >= count
