"""Every change another service cares about is written to the outbox in its transaction,
and the relay publishes it (in-process bus here, RabbitMQ in the last test)."""

from __future__ import annotations

from sqlalchemy import select

from ampflux_auth.models import event_tables
from ampflux_testing.event_listener import listen_for_events
from ampflux_testing.polling import eventually


async def test_each_event_type_is_written_with_its_change(pg):
    headers = {"X-Request-ID": "req-events-0001"}
    r = await pg.client.post(
        "/auth/register",
        json={"name": "Ada", "email": "ada@example.com", "password": pg.password, "company_name": "AE"},
        headers=headers,
    )
    reg = r.json()
    company_id, ada_id = reg["company"]["id"], reg["user"]["id"]
    admin = await pg.login()
    grace = await pg.create_user(admin, "grace@example.com", ["engineer"])
    await pg.client.patch(f"/auth/users/{grace['id']}", json={"roles": ["manager"]}, headers=pg.bearer(admin))
    await pg.client.post(f"/auth/users/{grace['id']}/deactivate", headers=pg.bearer(admin))
    await pg.client.patch("/auth/me", json={"name": "Ada King"}, headers=pg.bearer(admin))

    events = await pg.outbox()
    assert [e["type"] for e in events] == [
        "auth.company.created",
        "auth.user.registered",
        "auth.user.registered",
        "auth.user.updated",
        "auth.user.deactivated",
        "auth.user.updated",
    ]
    created, registered, added, updated, deactivated, renamed = events
    assert created["payload"] == {"company_id": company_id, "name": "AE"}
    assert registered["payload"]["user_id"] == ada_id and registered["payload"]["roles"] == ["admin"]
    assert added["payload"]["email"] == "grace@example.com" and added["envelope"]["actor_id"] == ada_id
    assert updated["payload"]["changed_fields"] == ["roles"] and updated["payload"]["roles"] == ["manager"]
    assert deactivated["payload"] == {"user_id": grace["id"], "company_id": company_id}
    assert renamed["payload"]["changed_fields"] == ["name"] and renamed["payload"]["name"] == "Ada King"
    for e in events:
        env = e["envelope"]
        assert env["producer"] == "auth" and env["company_id"] == company_id and env["version"] == 1
    assert created["envelope"]["request_id"] == "req-events-0001"


async def test_no_event_when_the_change_fails(pg):
    await pg.register()
    before = len(await pg.outbox())
    r = await pg.client.post(
        "/auth/register",
        json={"name": "Eve", "email": "ada@example.com", "password": pg.password, "company_name": "Evil"},
    )
    assert r.status_code == 409
    # The company row and its event were rolled back together.
    assert len(await pg.outbox()) == before


async def _wait_published(svc, timeout: float = 10.0) -> None:
    t = event_tables.outbox
    pending: list = []

    async def none_pending() -> bool:
        async with svc.app.state.db.session() as session:
            pending[:] = (await session.execute(select(t.c.id).where(t.c.published_at.is_(None)))).all()
        return not pending

    await eventually(none_pending, timeout=timeout, what=lambda: f"{len(pending)} events never published")


async def test_relay_publishes_the_outbox(pg):
    await pg.register()
    await _wait_published(pg)


async def test_events_reach_rabbitmq_with_their_type_as_routing_key(service_factory, postgres_url, amqp_url):
    async with listen_for_events(amqp_url, "auth.#") as events:
        async with service_factory(postgres_url, amqp_url=amqp_url) as svc:
            company_id = (await svc.register())["company"]["id"]
            await _wait_published(svc)
            ready = (await svc.client.get("/ready")).json()
            assert ready["checks"] == {"database": "ok", "broker": "ok"}

        # Other tests share the broker: keep only this company's events.
        received = await events.wait_for(lambda e: str(e.company_id) == company_id, count=2, timeout=10)
    assert sorted(e.type for e in received) == ["auth.company.created", "auth.user.registered"]
    for envelope in received:
        assert events.routing_key(envelope) == envelope.type
        assert envelope.producer == "auth"
