"""Conversations: create, list newest activity first, rename, delete, privacy; the first
exchange names the conversation; messages keep what the model did."""

from __future__ import annotations

import uuid


async def test_a_reply_is_stored_whole_with_usage_and_the_first_exchange_names_it(h, company, fake):
    user = company.user()
    conv = await h.conversation(user)
    assert conv["title"] == ""
    fake.queue(h.Reply(text="A 20 kV ring with four feeders needs one source and a normally-open point."))
    r = await h.send(user, conv, "Make me a 20 kV ring with four feeders")
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["status"] == "complete"
    assert reply["content"] == "A 20 kV ring with four feeders needs one source and a normally-open point."
    assert reply["model"] == fake.model and reply["finish_reason"] == "stop"
    assert reply["tokens_in"] == 11 and reply["tokens_out"] > 0
    assert reply["first_token_ms"] is not None and reply["duration_ms"] >= reply["first_token_ms"]
    # The model saw the system prompt and the question.
    sent = fake.chat_requests[-1]["messages"]
    assert sent[0]["role"] == "system" and sent[-1] == {
        "role": "user",
        "content": "Make me a 20 kV ring with four feeders",
    }
    # The operator's key went to the provider.
    assert fake.auth_headers[-1] == "Bearer sk-operator-test"

    full = (await h.client.get(f"/ai/conversations/{conv['id']}", headers=user.headers)).json()
    assert full["title"] == "Make me a 20 kV ring with four feeders"
    assert [m["role"] for m in full["messages"]] == ["user", "assistant"]
    assert full["messages"][1]["id"] == reply["id"]


async def test_history_goes_to_the_model_on_the_next_message(h, company, fake):
    user = company.user()
    conv = await h.conversation(user)
    await h.send(user, conv, "first question")
    await h.send(user, conv, "second question")
    roles = [(m["role"], m["content"]) for m in fake.chat_requests[-1]["messages"][1:]]
    assert roles == [
        ("user", "first question"),
        ("assistant", "Echo: first question"),
        ("user", "second question"),
    ]


async def test_list_is_newest_activity_first_and_paged(h, company):
    user = company.user()
    a = await h.conversation(user, "a")
    b = await h.conversation(user, "b")
    c = await h.conversation(user, "c")
    await h.send(user, a, "bump a")  # a now has the newest activity
    r = await h.client.get("/ai/conversations", params={"page_size": 2}, headers=user.headers)
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 3 and page["page_size"] == 2
    assert [x["id"] for x in page["items"]] == [a["id"], c["id"]]
    r2 = await h.client.get("/ai/conversations", params={"page_size": 2, "page": 2}, headers=user.headers)
    assert [x["id"] for x in r2.json()["items"]] == [b["id"]]


async def test_rename_and_delete(h, company):
    user = company.user()
    conv = await h.conversation(user)
    r = await h.client.patch(f"/ai/conversations/{conv['id']}", json={"title": "B7 breaker"}, headers=user.headers)
    assert r.status_code == 200 and r.json()["title"] == "B7 breaker"
    r = await h.client.patch(f"/ai/conversations/{conv['id']}", json={"title": ""}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["path"].endswith("title")
    await h.send(user, conv, "hello")
    assert (await h.client.delete(f"/ai/conversations/{conv['id']}", headers=user.headers)).status_code == 204
    assert (await h.client.get(f"/ai/conversations/{conv['id']}", headers=user.headers)).status_code == 404


async def test_conversations_are_private_to_their_user(h, company, other_company):
    owner, colleague, stranger = company.user(), company.user("admin"), other_company.user()
    conv = await h.conversation(owner)
    await h.send(owner, conv, "secret plans")
    for intruder in (colleague, stranger):
        assert (await h.client.get(f"/ai/conversations/{conv['id']}", headers=intruder.headers)).status_code == 404
        assert (await h.send(intruder, conv, "let me in")).status_code == 404
        r = await h.client.patch(f"/ai/conversations/{conv['id']}", json={"title": "x"}, headers=intruder.headers)
        assert r.status_code == 404
        assert (await h.client.delete(f"/ai/conversations/{conv['id']}", headers=intruder.headers)).status_code == 404
        listed = (await h.client.get("/ai/conversations", headers=intruder.headers)).json()
        assert conv["id"] not in [c["id"] for c in listed["items"]]


async def test_bad_input_is_a_422_naming_the_field(h, company):
    user = company.user()
    conv = await h.conversation(user)
    r = await h.client.post(f"/ai/conversations/{conv['id']}/messages", json={"content": ""}, headers=user.headers)
    assert r.status_code == 422 and "content" in r.json()["errors"][0]["path"]
    r = await h.client.post(f"/ai/conversations/{uuid.uuid4()}/messages", json={"content": "hi"}, headers=user.headers)
    assert r.status_code == 404
    r = await h.client.get("/ai/conversations/not-a-uuid", headers=user.headers)
    assert r.status_code == 422


async def test_no_token_is_401_and_a_read_only_key_cannot_send(h, company):
    assert (await h.client.get("/ai/conversations")).status_code == 401
