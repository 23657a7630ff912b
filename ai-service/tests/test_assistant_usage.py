"""The one-shot assistant and its cache, usage, the daily budget, and the OpenAI-compatible routes."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from ampflux_ai.domain.usage import seconds_to_reset


async def test_a_cached_question_makes_no_second_provider_call(h, company, fake):
    user = company.user()
    body = {"prompt": "What is kappa?", "context": {"project": "Plant 1"}}
    first = await h.client.post("/ai/assistant", json=body, headers=user.headers)
    assert first.status_code == 200, first.text
    assert first.json()["cached"] is False and first.json()["response"] == "Echo: What is kappa?"
    assert first.json()["usage"]["prompt_tokens"] == 11
    calls = len(fake.chat_requests)
    # The context went to the model.
    assert any("Plant 1" in m["content"] for m in fake.chat_requests[-1]["messages"])
    second = await h.client.post("/ai/assistant", json=body, headers=company.user().headers)
    assert second.json() == {
        **first.json(),
        "cached": True,
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
    assert len(fake.chat_requests) == calls
    # Another context is another question.
    other = await h.client.post("/ai/assistant", json={**body, "context": {}}, headers=user.headers)
    assert other.json()["cached"] is False and len(fake.chat_requests) == calls + 1
    metrics = (await h.client.get("/metrics")).text
    assert "ampflux_ai_cache_hits_total 1.0" in metrics


async def test_usage_is_counted_and_readable_by_company_admins_only(h, company, other_company):
    engineer, admin = company.user(), company.user("admin")
    conv = await h.conversation(engineer)
    await h.send(engineer, conv, "hello there")
    await h.client.post("/ai/assistant", json={"prompt": "once"}, headers=engineer.headers)
    assert (await h.client.get("/ai/usage", headers=engineer.headers)).status_code == 403
    r = await h.client.get("/ai/usage", headers=admin.headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["tokens_in"] == 22 and report["tokens_out"] > 0
    assert [(row["user_id"], row["calls"]) for row in report["rows"]] == [(str(engineer.id), 2)]
    assert report["spent_today"] == report["tokens_in"] + report["tokens_out"]
    stranger_admin = other_company.user("admin")
    assert (await h.client.get("/ai/usage", headers=stranger_admin.headers)).json()["rows"] == []
    r = await h.client.get("/ai/usage", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["path"].endswith("from")


async def test_a_spent_budget_is_a_429_with_retry_after_until_midnight(settings, company, other_company, app_client, h):
    async for client in app_client(settings.model_copy(update={"company_daily_token_budget": 15})):
        h = type(h)(client)
        user = company.user()
        conv = await h.conversation(user)
        assert (await h.send(user, conv, "a question that costs tokens")).status_code == 200
        r = await h.send(user, conv, "another")
        assert r.status_code == 429, r.text
        assert 0 < int(r.headers["retry-after"]) <= 86401
        assert r.json()["budget"] == 15 and r.json()["spent"] >= 15
        # The wait is in the body too, as in every 429 (too_many_requests), within the same second.
        assert int(r.headers["retry-after"]) - 1 <= r.json()["retry_after"] <= int(r.headers["retry-after"])
        assert r.json()["type"].endswith("/ai-budget-exhausted") and r.json()["title"] == "Too Many Requests"
        r = await client.post("/ai/assistant", json={"prompt": "x"}, headers=user.headers)
        assert r.status_code == 429
        # Another company's budget is its own.
        stranger = other_company.user()
        assert (await client.post("/ai/assistant", json={"prompt": "x"}, headers=stranger.headers)).status_code == 200
        assert "ampflux_ai_budget_refusals_total 2.0" in (await client.get("/metrics")).text


def test_retry_after_counts_to_the_next_utc_midnight():
    from datetime import UTC, datetime

    assert seconds_to_reset(datetime(2026, 1, 1, 23, 59, 30, tzinfo=UTC)) == 31


async def test_openai_compatible_chat_plain_and_streamed(h, company, fake):
    user = company.user()
    r = await h.client.get("/ai/v1/models", headers=user.headers)
    assert r.json()["data"][0]["id"] == fake.model
    body = {"model": "anything", "messages": [{"role": "user", "content": "ping"}]}
    r = await h.client.post("/ai/v1/chat/completions", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "Echo: ping"
    assert r.json()["object"] == "chat.completion" and r.json()["usage"]["prompt_tokens"] == 11
    # The platform's system prompt goes first when the client sends none.
    assert fake.chat_requests[-1]["messages"][0]["role"] == "system"
    r = await h.client.post("/ai/v1/chat/completions", json={**body, "stream": True}, headers=user.headers)
    lines = [line[6:] for line in r.text.split("\n") if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(x) for x in lines[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Echo: ping"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_websocket_protocol_end_to_end(settings, company, fake, make_app):
    user = company.user()
    fake.queue(lambda body: fake_reply(body))
    with TestClient(make_app(settings)) as client:
        with client.websocket_connect("/ai/ws", headers=user.headers) as ws:
            ws.send_json({"type": "send_message", "chat_id": None, "message": "ring of four feeders"})
            tokens, done = [], None
            while done is None:
                msg = ws.receive_json()
                if msg["type"] == "message_token":
                    tokens.append(msg["text"])
                elif msg["type"] == "message_complete":
                    done = msg
                else:
                    raise AssertionError(msg)
            assert "".join(tokens) == done["full_text"] == "Ring: ring of four feeders"
            # The same chat continues; a bad frame is an error, not a closed socket.
            ws.send_json({"type": "nonsense"})
            assert ws.receive_json()["type"] == "error"
            ws.send_json({"type": "send_message", "chat_id": done["chat_id"], "message": "and again"})
            while (msg := ws.receive_json())["type"] != "message_complete":
                assert msg["type"] == "message_token"
            assert msg["chat_id"] == done["chat_id"]
            r = client.get(f"/ai/conversations/{done['chat_id']}", headers=user.headers)
            assert [m["role"] for m in r.json()["messages"]] == ["user", "assistant", "user", "assistant"]
        # No token: refused.
        try:
            with client.websocket_connect("/ai/ws") as ws:
                ws.receive_json()
            raise AssertionError("an unauthenticated socket was served")
        except Exception as exc:  # starlette raises WebSocketDisconnect with the close code
            assert getattr(exc, "code", None) == 4401


def fake_reply(body):
    from ampflux_testing.fake_provider import Reply

    last = body["messages"][-1]["content"]
    return Reply(text=f"Ring: {last}")


async def test_openai_compat_still_answers_problems(h, company, fake):
    user = company.user()
    r = await h.client.post("/ai/v1/chat/completions", json={"messages": []}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["path"].endswith("messages")
    # Only tool results (found by schemathesis: an IndexError, a 500): nothing to answer.
    r = await h.client.post("/ai/v1/chat/completions", json={"messages": [{"role": "tool"}]}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "no_prompt"
    fake.queue(h.Reply(fail_status=500))
    r = await h.client.post(
        "/ai/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}, headers=user.headers
    )
    assert r.status_code == 502
    assert r.json()["type"].endswith("/ai-provider-error") and r.json()["title"] == "Bad Gateway"


async def test_openai_compat_provider_timeout_is_the_504_ai_provider_timeout(settings, company, fake, app_client):
    # It said `ai-provider-error` for a timeout, unlike the messages route and provider_problem.
    from ampflux_testing.fake_provider import Reply

    async for client in app_client(settings.model_copy(update={"provider_timeout_s": 0.5})):
        fake.queue(Reply(text="too late", delay_s=3))
        r = await client.post(
            "/ai/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "x"}]},
            headers=company.user().headers,
        )
        assert r.status_code == 504, r.text
        assert r.json()["type"].endswith("/ai-provider-timeout") and r.json()["title"] == "Gateway Timeout"
        assert r.json()["detail"] == "the AI provider did not answer in time"
