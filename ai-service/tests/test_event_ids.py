"""A reply's event ids mean the same on every replica: derived from the text offset and the tool
calls finished (domain/generation.py), so the in-memory stream of the replica writing it and
the stored message (another replica, or after memory forgot it) agree, and a client that
re-attaches anywhere with its Last-Event-ID gets exactly the rest."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select

from ampflux_ai.domain.generation import Generation, stored_events
from ampflux_ai.models import Message
from ampflux_testing.polling import eventually
from ampflux_testing.sse import parse_sse

TEXT = "".join(f"w{i:02d} " for i in range(40))  # 160 characters


def _platform(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, json={"items": [{"id": "p1", "name": "Plant 1"}], "total": 1, "page": 1, "page_size": 50}
    )


def _text(events) -> str:
    return "".join(e["data"]["text"] for e in events if e["event"] == "token")


async def _stored_chars(app, message_id: str, at_least: int, timeout_s: float = 10.0) -> int:

    async def stored() -> int | None:
        async with app.state.db.session() as session:
            message = await session.get(Message, uuid.UUID(message_id))
        return len(message.content) if message is not None and len(message.content) >= at_least else None

    return await eventually(stored, timeout=timeout_s, interval=0.02, what="the reply's text to be stored")


async def test_tool_events_have_the_same_ids_live_and_from_the_store_from_any_last_event_id(
    settings, company, fake, app_client, h
):
    before, after = "Let me look. ", "You have 1 project: Plant 1."
    fake.queue(
        h.Reply(text=before, tool_calls=[{"name": "list_projects", "arguments": {}}]),
        h.Reply(text=after),
    )
    async for client in app_client(settings, tool_transport=httpx.MockTransport(_platform)):
        h = type(h)(client)
        user = company.user()
        conv = await h.conversation(user)
        r = await h.send(user, conv, "what projects?", stream=True)
        live = h.parse_sse(r.text)
        kinds = [e["event"] for e in live]
        assert kinds == ["token"] * 4 + ["tool_call", "tool_result"] + ["token"] * 7 + ["complete"], kinds
        # 13 characters, then the call (+1) and its result (+2), then the text goes on from 15.
        ids = [int(e["id"]) for e in live]
        assert ids[:6] == [4, 8, 12, 13, 14, 15]
        assert ids[-2:] == [len(before) + len(after) + 2, len(before) + len(after) + 4]
        message_id = r.headers["x-message-id"]

        url = f"/ai/conversations/{conv['id']}/messages/{message_id}/stream"

        async def reattach(last_event_id: int, client=client, url=url, headers=user.headers) -> list[dict]:
            got = await client.get(url, headers={**headers, "Last-Event-ID": str(last_event_id)})
            assert got.status_code == 200, got.text
            return parse_sse(got.text)

        # From memory (the live path) and from the store, after every event id the client could
        # have seen, and from inside tokens: exactly the rest, with the live ids.
        cuts = [0, 2, *ids[:-1], ids[6] - 1]
        from_memory = {cut: await reattach(cut) for cut in cuts}
        assert await reattach(ids[-1]) == []  # it saw the end: nothing more
        client.app.state.generations._live.clear()  # as on another replica, or after stream_keep_s
        for cut in cuts:
            stored = await reattach(cut)
            for rest in (from_memory[cut], stored):
                rest_ids = [int(e["id"]) for e in rest]
                assert rest_ids == sorted(set(rest_ids)) and rest_ids[0] > cut, (cut, rest_ids)
                # The characters whose id (offset + 1, + 2 once the tool call is done) is above `cut`.
                whole = before + after
                expected = "".join(c for i, c in enumerate(whole) if i + 1 + 2 * (i >= len(before)) > cut)
                assert _text(rest) == expected, (cut, _text(rest))
                tool_events = [(e["event"], e["id"]) for e in rest if e["event"].startswith("tool")]
                assert tool_events == [(e["event"], e["id"]) for e in live[4:6] if int(e["id"]) > cut]
                assert rest[-1]["event"] == "complete" and rest[-1]["id"] == live[-1]["id"]
        assert await reattach(ids[-1]) == []  # from the store too
        stored = await reattach(ids[4])  # after the tool call: its result, as stored
        assert stored[0]["event"] == "tool_result" and stored[0]["data"]["result"] == live[5]["data"]["result"]


async def test_a_reply_written_by_one_instance_is_resumed_on_another_at_its_last_event_id(
    settings, company, fake, app_client, h
):
    fast = settings.model_copy(update={"stream_flush_s": 0.05})
    fake.queue(h.Reply(text=TEXT, chunk_chars=4, chunk_delay_s=0.02))  # 40 chunks, ~0.8 s
    user = company.user()
    async for a in app_client(fast):
        async for b in app_client(fast):  # a second instance on the same database
            conv = await type(h)(a).conversation(user)
            headers = {**user.headers, "Accept": "text/event-stream"}
            # The original client's stream, read whole in the background (its ids: the live ones).
            sending = asyncio.create_task(
                a.post(f"/ai/conversations/{conv['id']}/messages", json={"content": "q"}, headers=headers)
            )
            message_id = await _reply_id(a.app, conv["id"])
            # A client that read the first 10 tokens (id 40) re-attaches once that much is stored.
            last_id = 40
            assert await _stored_chars(a.app, message_id, last_id) < len(TEXT)  # still being written
            follow = f"/ai/conversations/{conv['id']}/messages/{message_id}/stream"
            resume = {**user.headers, "Last-Event-ID": str(last_id)}
            assert b.app.state.generations.get(uuid.UUID(message_id)) is None  # B serves it from the store
            on_b = h.parse_sse((await b.get(follow, headers=resume)).text)
            on_a = h.parse_sse((await a.get(follow, headers=resume)).text)  # the writer's memory
            live = h.parse_sse((await sending).text)
            assert [int(e["id"]) for e in live if e["event"] == "token"] == list(range(4, len(TEXT) + 1, 4))
            for rest in (on_b, on_a):
                assert _text(rest) == TEXT[last_id:]
                assert int(rest[0]["id"]) > last_id
                assert {e["id"] for e in rest} <= {e["id"] for e in live}  # the writer's ids
                assert rest[-1]["event"] == "complete" and rest[-1]["id"] == str(len(TEXT) + 2) == live[-1]["id"]
                assert rest[-1]["data"]["full_text"] == TEXT
            # B followed the reply while A was still writing it: the text came in several events.
            assert sum(e["event"] == "token" for e in on_b) >= 2


async def _reply_id(app, conversation_id: str, timeout_s: float = 10.0) -> str:

    async def stored() -> str | None:
        async with app.state.db.session() as session:
            ids = (
                await session.scalars(
                    select(Message.id).where(
                        Message.conversation_id == uuid.UUID(conversation_id), Message.role == "assistant"
                    )
                )
            ).all()
        return str(ids[0]) if ids else None

    return await eventually(stored, timeout=timeout_s, interval=0.01, what="the reply to be stored")


async def test_memory_and_store_agree_on_every_id_for_any_interleaving():
    # A reply as the hub sees it: text, two tool calls (the second straight after the first),
    # more text; the store's reading of the same message gives the same ids and text.
    generation = Generation(uuid.uuid4())
    calls = []
    text = ""
    for kind, value in [("t", "ab"), ("t", "cde"), ("c", "x"), ("c", "y"), ("t", "fg"), ("c", "z"), ("t", "h")]:
        if kind == "t":
            text += value
            await generation.emit("token", {"text": value})
        else:
            await generation.emit("tool_call", {"id": value, "name": "n", "arguments": {}})
            calls.append({"id": value, "name": "n", "arguments": {}, "ok": True, "result": 1, "text_offset": len(text)})
            await generation.emit("tool_result", {"id": value, "name": "n", "ok": True, "result": 1})
    await generation.emit("complete", {})
    live = generation.events
    assert [e.id for e in live] == [2, 5, 6, 7, 8, 9, 11, 12, 13, 14, 16]
    for cut in range(live[-1].id):
        # The characters after the cut: each character i has id i + 1 + 2 * (tools before it).
        chars = "".join(c for i, c in enumerate(text) if i + 1 + 2 * sum(k["text_offset"] <= i for k in calls) > cut)
        from_memory = [e async for e in generation.follow(cut)]
        from_store = stored_events(text, calls, cut)
        for rest in (from_memory, from_store):
            assert all(e.id > cut for e in rest) and [e.id for e in rest] == sorted({e.id for e in rest})
            assert "".join(e.data["text"] for e in rest if e.type == "token") == chars, cut
            # Tokens end where the writer's did, so their ids are ones the live stream had.
            assert {e.id for e in rest if e.type == "token"} <= {e.id for e in live if e.type == "token"}
        assert [(e.type, e.id) for e in from_store if e.type != "token"] == [
            (e.type, e.id) for e in from_memory if e.type not in ("token", "complete")
        ]
