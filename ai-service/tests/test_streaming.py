"""Streaming, re-attaching, and what a provider failure leaves behind."""

from __future__ import annotations

from ampflux_ai.models import Message
from ampflux_testing.polling import eventually


async def _stored(
    client, message_id: str, *, until=lambda m: m.status != "streaming", timeout_s: float = 10.0
) -> Message:

    async def reached() -> Message | None:
        async with client.app.state.db.session() as session:
            message = await session.get(Message, __import__("uuid").UUID(message_id))
        return message if message is not None and until(message) else None

    return await eventually(reached, timeout=timeout_s, what="the message to reach the expected state")


async def test_sse_streams_tokens_then_complete_and_stores_the_whole_text(h, company, fake):
    user = company.user()
    conv = await h.conversation(user)
    text = "Bus B7 sees 31.2 kA against a 25 kA breaker."
    fake.queue(h.Reply(text=text, chunk_chars=5))
    r = await h.send(user, conv, "why is B7 over?", stream=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = h.parse_sse(r.text)
    tokens = [e for e in events if e["event"] == "token"]
    assert len(tokens) == -(-len(text) // 5)
    assert "".join(e["data"]["text"] for e in tokens) == text
    # Ids are text offsets: a token's is the characters delivered up to its end, complete's two more.
    offsets = [sum(len(t["data"]["text"]) for t in tokens[: i + 1]) for i in range(len(tokens))]
    assert [int(e["id"]) for e in events] == [*offsets, len(text) + 2]
    complete = events[-1]
    assert complete["event"] == "complete" and complete["data"]["full_text"] == text
    assert complete["data"]["message_id"] == r.headers["x-message-id"]
    assert complete["data"]["usage"]["prompt_tokens"] == 11
    stored = await _stored(h.client, r.headers["x-message-id"])
    assert stored.status == "complete" and stored.content == text


async def test_a_client_that_goes_away_loses_nothing_and_reattaches_for_the_rest(h, company, fake):
    user = company.user()
    conv = await h.conversation(user)
    text = "".join(f"w{i} " for i in range(40))
    fake.queue(h.Reply(text=text, chunk_chars=3, chunk_delay_s=0.02))
    headers = {**user.headers, "Accept": "text/event-stream"}
    seen: list[dict] = []
    async with h.client.stream(
        "POST", f"/ai/conversations/{conv['id']}/messages", json={"content": "long answer please"}, headers=headers
    ) as r:
        message_id = r.headers["x-message-id"]
        buffer = ""
        async for piece in r.aiter_text():
            buffer += piece
            seen = [e for e in h.parse_sse(buffer.rsplit("\n\n", 1)[0]) if e.get("event") == "token"]
            if len(seen) >= 3:
                break  # the client disconnects mid-answer
    last_id = seen[-1]["id"]
    # Re-attach with Last-Event-ID: the rest, exactly once, then complete.
    r = await h.client.get(
        f"/ai/conversations/{conv['id']}/messages/{message_id}/stream",
        headers={**user.headers, "Last-Event-ID": last_id},
    )
    rest = h.parse_sse(r.text)
    assert int(rest[0]["id"]) > int(last_id)
    got = "".join(e["data"]["text"] for e in seen) + "".join(e["data"]["text"] for e in rest if e["event"] == "token")
    assert got == text
    assert rest[-1]["event"] == "complete"
    stored = await _stored(h.client, message_id)
    assert stored.status == "complete" and stored.content == text


async def test_a_finished_reply_forgotten_by_memory_is_served_from_the_store(h, company, fake):
    user = company.user()
    conv = await h.conversation(user)
    r = await h.send(user, conv, "hi")
    message_id = r.json()["id"]
    h.client.app.state.generations._live.clear()  # as after stream_keep_s, or on another replica
    r = await h.client.get(f"/ai/conversations/{conv['id']}/messages/{message_id}/stream", headers=user.headers)
    events = h.parse_sse(r.text)
    # No Last-Event-ID: the whole text, then complete, with the ids the live stream gave them.
    assert [(e["event"], e["id"]) for e in events] == [("token", "8"), ("complete", "10")]
    assert events[0]["data"]["text"] == "Echo: hi" and events[1]["data"]["full_text"] == "Echo: hi"


async def test_provider_500_is_a_502_problem_and_a_failed_message(h, company, fake):
    user = company.user()
    conv = await h.conversation(user)
    fake.queue(h.Reply(fail_status=500))
    r = await h.send(user, conv, "hello")
    assert r.status_code == 502 and r.headers["content-type"].startswith("application/problem+json")
    assert "HTTP 500" in r.json()["detail"]
    stored = await _stored(h.client, r.json()["message_id"])
    assert stored.status == "failed" and stored.finish_reason == "error"


async def test_provider_timeout_is_a_504_problem(settings, company, fake, app_client, h):
    # A provider timeout of its own, short, so the test waits half a second rather than the
    # other tests' 5 s; the reply would come well after it (a 504 means it was not waited for).
    async for client in app_client(settings.model_copy(update={"provider_timeout_s": 0.5})):
        h = type(h)(client)
        user = company.user()
        conv = await h.conversation(user)
        fake.queue(h.Reply(text="too late", delay_s=3))
        r = await h.send(user, conv, "hello")
        assert r.status_code == 504, r.text
        assert r.json()["type"].endswith("ai-provider-timeout")
        stored = await _stored(h.client, r.json()["message_id"])
        assert stored.status == "failed" and stored.content == ""


async def test_a_stream_broken_midway_is_stored_failed_with_what_was_written(h, company, fake):
    user = company.user()
    conv = await h.conversation(user)
    fake.queue(h.Reply(text="The fault level at B7 is 31.2 kA and", chunk_chars=4, break_after_chunks=3))
    r = await h.send(user, conv, "fault level?", stream=True)
    events = h.parse_sse(r.text)
    assert events[-1]["event"] == "error"
    assert all(e["event"] != "complete" for e in events)
    assert events[-1]["data"]["partial_text"] == "The fault le"
    stored = await _stored(h.client, events[-1]["data"]["message_id"])
    assert stored.status == "failed" and stored.content == "The fault le" and stored.error
    # The conversation shows it as failed, never as a complete answer.
    full = (await h.client.get(f"/ai/conversations/{conv['id']}", headers=user.headers)).json()
    assert full["messages"][-1]["status"] == "failed"


async def test_no_provider_is_a_503_that_says_how_to_configure_one(settings, company, app_client, h):
    async for client in app_client(settings.model_copy(update={"provider_base_url": "", "model": ""})):
        h = type(h)(client)
        user = company.user()
        conv = await h.conversation(user)  # the rest of the service still works
        r = await h.send(user, conv, "hello")
        assert r.status_code == 503
        assert "AI_PROVIDER_BASE_URL" in r.json()["detail"] and "AI_MODEL" in r.json()["detail"]
        r = await client.post("/ai/assistant", json={"prompt": "x"}, headers=user.headers)
        assert r.status_code == 503
        assert (await client.get("/health")).status_code == 200
