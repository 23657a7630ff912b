"""What stands before a reply's provider call: one query (context and history together), and no
liveness ping for a pooled connection given back a moment ago (ampflux_shared.db_ping)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, pool, text


def _statements(app) -> list[str]:
    seen: list[str] = []

    @event.listens_for(app.state.db.engine.sync_engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    return seen


async def test_the_context_and_the_history_are_one_query_before_the_provider_call(h, company, fake):
    user = company.user()
    conv = await h.conversation(user)
    assert (await h.send(user, conv, "first")).status_code == 200
    statements = _statements(h.client.app)
    before_call: list[list[str]] = []

    def answer(body):
        before_call.append(list(statements))  # what the service had sent when the provider was asked
        return h.Reply(text="second answer")

    fake.queue(answer)
    assert (await h.send(user, conv, "second")).status_code == 200
    reads = [
        s
        for s in before_call[0]
        if s.lstrip().upper().startswith("SELECT") and ("conversations" in s or "messages" in s)
    ]
    reads = [s for s in reads if "SKIP LOCKED" not in s]  # the sweeper's, on its own schedule
    assert len(reads) == 1, reads
    # The history still reaches the model, in order.
    sent = fake.chat_requests[-1]["messages"]
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", "first"),
        ("assistant", "Echo: first"),
        ("user", "second"),
    ]


def _terminate_idle_connections(database_url: str) -> int:
    engine = create_engine(database_url.replace("+asyncpg", "+psycopg"), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).all()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("idle_s", [3600.0, 0.001])
async def test_the_pool_pings_only_a_connection_idle_a_while(settings, company, app_client, h, idle_s):
    async for client in app_client(settings.model_copy(update={"database_ping_after_idle_s": idle_s})):
        user = company.user()
        dialect = client.app.state.db.engine.sync_engine.dialect
        ping = dialect.do_ping
        pings: list[int] = []
        dialect.do_ping = lambda c, pings=pings, ping=ping: (pings.append(1), ping(c))[1]  # type: ignore[method-assign]
        for _ in range(3):
            assert (await client.get("/ai/conversations", headers=user.headers)).status_code == 200
        if idle_s > 1:
            assert pings == []  # given back moments ago: used as it is
        else:
            assert pings  # idle longer than the setting: pinged first
        # The database drops every connection (a restart, an idle timeout).
        assert _terminate_idle_connections(settings.database_url) >= 1
        r = await client.get("/ai/conversations", headers=user.headers)
        if idle_s > 1:
            # Not pinged: the dead connection fails this one request with a 503, and the pool,
            # told of the disconnect, drops the rest, so the next request is served.
            assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
        else:
            assert r.status_code == 200  # pinged, found dead, replaced before use
        assert (await client.get("/ai/conversations", headers=user.headers)).status_code == 200


async def test_the_provider_request_is_on_the_wire_before_the_exchange_is_written(h, company, fake, monkeypatch):
    from ampflux_ai.domain import provider

    order: list[str] = []
    hook = provider._tell_when_sent

    async def recording(request) -> None:
        await hook(request)
        trace = request.extensions["trace"]

        async def noted(event: str, info: dict) -> None:
            if event.endswith("send_request_body.complete"):
                order.append("provider request sent")
            await trace(event, info)

        request.extensions["trace"] = noted

    # The app's provider client is made at its first call, with the hook of that moment.
    monkeypatch.setattr(provider, "_tell_when_sent", recording)
    user = company.user()
    conv = await h.conversation(user)

    @event.listens_for(h.client.app.state.db.engine.sync_engine, "before_cursor_execute")
    def _inserts(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MESSAGES"):
            order.append("exchange written")

    r = await h.send(user, conv, "hello", stream=True)
    assert r.status_code == 200 and h.parse_sse(r.text)[-1]["event"] == "complete"
    assert order[:2] == ["provider request sent", "exchange written"], order
