"""The reply streams while its exchange is written; a write that fails ends it in an error."""

from __future__ import annotations

import uuid

from ampflux_ai.domain import conversations
from ampflux_ai.models import Message


async def test_an_exchange_that_cannot_be_stored_ends_the_reply_in_a_503_error(h, company, fake, monkeypatch):
    user = company.user()
    conv = await h.conversation(user)
    store = conversations.store_exchange

    async def store_and_break(session, conversation, user_message, reply):
        # A row whose conversation does not exist: the write fails (foreign key), after the
        # provider call started.
        session.add(Message(id=uuid.uuid4(), conversation_id=uuid.uuid4(), role="user", content="x"))
        await store(session, conversation, user_message, reply)

    monkeypatch.setattr(conversations, "store_exchange", store_and_break)
    fake.queue(h.Reply(text="never stored", chunk_delay_s=0.05))
    r = await h.send(user, conv, "hello", stream=True)
    assert r.status_code == 200
    end = h.parse_sse(r.text)[-1]
    assert end["event"] == "error" and end["data"]["status"] == 503, end
    r = await h.send(user, conv, "hello again")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/ai-reply-unavailable"), r.json()  # the provider did not fail
    monkeypatch.setattr(conversations, "store_exchange", store)
    fake._script.clear()  # the first reply may have been stopped before the provider was asked
    # Nothing of either exchange was stored, and the conversation still answers.
    assert (await h.client.get(f"/ai/conversations/{conv['id']}", headers=user.headers)).json()["messages"] == []
    r = await h.send(user, conv, "and now")
    assert r.status_code == 200 and r.json()["content"] == "Echo: and now"
