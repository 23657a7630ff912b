"""The AI service through the real gateway, on real PostgreSQL and RabbitMQ, with the local
OpenAI-compatible test provider (e2e.stack_ai.PROVIDER) scripted per test; its tools act on
the real project and simulation services with the caller's own token."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from e2e import stack_ai
from e2e.flows import bearer, register_and_login, sse_events

from ampflux_testing.circuits import CASES_DIR
from ampflux_testing.fake_provider import Reply
from ampflux_testing.polling import eventually_sync

pytestmark = pytest.mark.slow


def conversation(gw: httpx.Client, h: dict) -> str:
    r = gw.post("/ai/conversations", json={}, headers=h)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def tool_results(body: dict) -> list[dict]:
    return [json.loads(m["content"]) for m in body["messages"] if m.get("role") == "tool"]


def stored(gw: httpx.Client, h: dict, cid: str, mid: str, timeout_s: float = 20) -> dict:

    def settled() -> dict | None:
        messages = gw.get(f"/ai/conversations/{cid}", headers=h).json()["messages"]
        found = next((m for m in messages if m["id"] == mid), None)
        return found if found and found["status"] != "streaming" else None

    return eventually_sync(settled, timeout=timeout_s, what=f"message {mid} to stop streaming")


def test_a_streamed_conversation_is_stored_whole(gw, engineer, provider):
    cid = conversation(gw, engineer)
    text = "B7 sees 31.2 kA; the breaker is rated 25 kA, so it is over by 25 %."
    provider.queue(Reply(text=text, chunk_chars=6))
    r = gw.post(
        f"/ai/conversations/{cid}/messages",
        json={"content": "why is bus B7 over the breaker rating?"},
        headers={**engineer, "Accept": "text/event-stream"},
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert "".join(e["data"]["text"] for e in events if e["event"] == "token") == text
    assert events[-1]["event"] == "complete"
    message = stored(gw, engineer, cid, events[-1]["data"]["message_id"])
    assert message["status"] == "complete" and message["content"] == text
    convo = gw.get(f"/ai/conversations/{cid}", headers=engineer).json()
    assert convo["title"] == "why is bus B7 over the breaker rating?"


def test_the_websocket_protocol_works_end_to_end(gw, stack, engineer, provider):
    from websockets.sync.client import connect

    provider.queue(Reply(text="A ring of four feeders, one normally-open point.", chunk_chars=5))
    url = stack["gateway"].url.replace("http://", "ws://") + "/ai/ws"
    with connect(url, additional_headers=engineer, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "send_message", "chat_id": None, "message": "make me a 20 kV ring"}))
        tokens = []
        while True:
            msg = json.loads(ws.recv(timeout=15))
            if msg["type"] == "message_token":
                tokens.append(msg["text"])
                continue
            assert msg["type"] == "message_complete", msg
            break
    assert "".join(tokens) == msg["full_text"] == "A ring of four feeders, one normally-open point."
    convo = gw.get(f"/ai/conversations/{msg['chat_id']}", headers=engineer).json()
    assert convo["messages"][-1]["id"] == msg["message_id"]


def test_an_openai_sdk_with_a_platform_api_key_gets_an_answer(gw, stack, engineer, provider):
    from openai import OpenAI

    r = gw.post("/auth/api-keys", json={"name": "sdk", "scopes": ["ai:read", "ai:write"]}, headers=engineer)
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    sdk = OpenAI(base_url=stack["gateway"].url + "/ai/v1", api_key=key, max_retries=0)
    assert [m.id for m in sdk.models.list()] == [provider.model]
    answer = sdk.chat.completions.create(model=provider.model, messages=[{"role": "user", "content": "ping"}])
    assert answer.choices[0].message.content == "Echo: ping"
    streamed = sdk.chat.completions.create(
        model=provider.model, messages=[{"role": "user", "content": "pong"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Echo: pong"
    # A bearer that is an API key counts as one only under /ai/v1.
    assert gw.get("/ai/conversations", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_a_tool_call_starts_a_real_study_and_the_answer_carries_its_numbers(gw, engineer, provider):
    doc = json.loads((CASES_DIR / "ind480_radial.json").read_text())
    pid = gw.post("/projects/", json={"name": f"AI {uuid.uuid4().hex[:6]}"}, headers=engineer).json()["id"]
    r = gw.post(f"/projects/{pid}/circuits/", json={"name": "radial", "document": doc}, headers=engineer)
    assert r.status_code == 201, r.text
    circuit_id = r.json()["id"]

    def answer(body: dict) -> Reply:
        result = tool_results(body)[0]
        worst = result["results"]["worst_buses"][0]["worst"][0]
        return Reply(text=f"Study {result['run_id']}: worst bus {worst['bus']} at {worst['ikss_ka']} kA.")

    provider.queue(
        Reply(tool_calls=[{"name": "start_study", "arguments": {"project_id": pid, "circuit_id": circuit_id}}]),
        answer,
    )
    cid = conversation(gw, engineer)
    r = gw.post(f"/ai/conversations/{cid}/messages", json={"content": "run a study"}, headers=engineer, timeout=90)
    assert r.status_code == 200, r.text
    reply = r.json()
    call = reply["tool_calls"][0]
    assert call["ok"] is True and call["result"]["status"] == "succeeded", call
    run_id = call["result"]["run_id"]
    # The numbers are the simulation service's own.
    results = gw.get(f"/simulations/{run_id}/results", params={"page_size": 100}, headers=engineer).json()
    first = call["result"]["results"]["worst_buses"][0]
    rows = [i for i in results["items"] if (i["fault"], i["case"]) == (first["fault"], first["case"])]
    top = max(rows, key=lambda i: i["values"]["ikss_ka"])
    assert reply["content"] == f"Study {run_id}: worst bus {top['bus_id']} at {top['values']['ikss_ka']} kA."


def test_a_described_circuit_is_saved_as_a_valid_version(gw, engineer, provider):
    pid = gw.post("/projects/", json={"name": f"AI {uuid.uuid4().hex[:6]}"}, headers=engineer).json()["id"]
    good = {
        "format": "circuit-document",
        "version": 1,
        "id": "ring",
        "title": "20 kV supply",
        "study": {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"]},
        "buses": [{"id": "MV", "vn_kv": 20.0}],
        "ext_grids": [{"id": "G", "bus": "MV", "s_sc_max_mva": 400.0, "rx_max": 0.1}],
    }
    bad = {**good, "ext_grids": [{"id": "G", "bus": "NOWHERE", "s_sc_max_mva": 400.0, "rx_max": 0.1}]}
    provider.queue(
        Reply(
            tool_calls=[{"name": "create_circuit", "arguments": {"project_id": pid, "name": "ring", "document": bad}}]
        ),
        Reply(
            tool_calls=[{"name": "create_circuit", "arguments": {"project_id": pid, "name": "ring", "document": good}}]
        ),
        lambda body: Reply(text=f"Saved circuit {tool_results(body)[-1]['circuit_id']} version 1."),
    )
    cid = conversation(gw, engineer)
    reply = gw.post(
        f"/ai/conversations/{cid}/messages", json={"content": "make me a 20 kV supply"}, headers=engineer
    ).json()
    first, second = reply["tool_calls"]
    assert first["ok"] is False and "NOWHERE" in first["result"]["error"]
    assert second["ok"] is True
    circuit_id = second["result"]["circuit_id"]
    assert reply["content"] == f"Saved circuit {circuit_id} version 1."
    version = gw.get(f"/projects/{pid}/circuits/{circuit_id}/versions/latest", headers=engineer)
    assert version.status_code == 200 and version.json()["number"] == 1
    assert version.json()["document"]["buses"] == good["buses"]


def test_a_cached_question_makes_no_second_provider_call(gw, engineer, provider):
    body = {"prompt": f"what is kappa? {uuid.uuid4().hex}", "context": {}}
    first = gw.post("/ai/assistant", json=body, headers=engineer).json()
    calls = len(provider.chat_requests)
    second = gw.post("/ai/assistant", json=body, headers=engineer).json()
    assert first["cached"] is False and second["cached"] is True and second["response"] == first["response"]
    assert len(provider.chat_requests) == calls


def test_a_spent_budget_gives_429(gw, engineer, provider):
    provider.queue(Reply(text="expensive", prompt_tokens=stack_ai.BUDGET))
    assert gw.post("/ai/assistant", json={"prompt": "burn it"}, headers=engineer).status_code == 200
    r = gw.post("/ai/assistant", json={"prompt": "one more"}, headers=engineer)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(("script", "status"), [(Reply(fail_status=500), 502), (Reply(text="late", delay_s=5), 504)])
def test_provider_failure_is_a_clear_problem_and_no_half_message_is_complete(gw, engineer, provider, script, status):
    provider.queue(script)
    cid = conversation(gw, engineer)
    r = gw.post(f"/ai/conversations/{cid}/messages", json={"content": "hello"}, headers=engineer)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    message = stored(gw, engineer, cid, r.json()["message_id"])
    assert message["status"] == "failed"


def test_a_disconnected_client_reattaches_and_gets_the_rest(gw, engineer, provider):
    text = "".join(f"t{i} " for i in range(60))
    provider.queue(Reply(text=text, chunk_chars=3, chunk_delay_s=0.02))
    cid = conversation(gw, engineer)
    got, last_id = "", None
    with gw.stream(
        "POST",
        f"/ai/conversations/{cid}/messages",
        json={"content": "long"},
        headers={**engineer, "Accept": "text/event-stream"},
    ) as r:
        mid = r.headers["x-message-id"]
        buffer = ""
        for piece in r.iter_text():
            buffer += piece
            done = [e for e in sse_events(buffer.rsplit("\n\n", 1)[0]) if e.get("event") == "token"]
            if len(done) >= 5:
                got = "".join(e["data"]["text"] for e in done)
                last_id = done[-1]["id"]
                break
    r = gw.get(f"/ai/conversations/{cid}/messages/{mid}/stream", headers={**engineer, "Last-Event-ID": last_id})
    rest = sse_events(r.text)
    got += "".join(e["data"]["text"] for e in rest if e["event"] == "token")
    assert got == text and rest[-1]["event"] == "complete"
    assert stored(gw, engineer, cid, mid)["content"] == text


def test_one_user_cannot_read_another_and_a_tool_cannot_reach_another_company(gw, engineer, provider):
    _, stranger_tokens = register_and_login(gw)
    stranger = bearer(stranger_tokens)
    cid = conversation(gw, engineer)
    assert gw.get(f"/ai/conversations/{cid}", headers=stranger).status_code == 404
    theirs = gw.post("/projects/", json={"name": "Theirs"}, headers=stranger).json()["id"]
    r = gw.post(f"/projects/{theirs}/circuits/", json={"name": "secret"}, headers=stranger)
    provider.queue(
        Reply(
            tool_calls=[
                {"name": "summarise_circuit_version", "arguments": {"project_id": theirs, "circuit_id": r.json()["id"]}}
            ]
        ),
        Reply(text="I cannot see that project."),
    )
    reply = gw.post(f"/ai/conversations/{cid}/messages", json={"content": "peek"}, headers=engineer).json()
    call = reply["tool_calls"][0]
    assert call["ok"] is False and "404" in call["result"]["error"]
    assert reply["status"] == "complete"


def test_an_uploaded_circuit_document_is_analysed_and_studied_without_the_model(gw, engineer, provider):
    raw = (CASES_DIR / "ind480_radial.json").read_bytes()
    pid = gw.post("/projects/", json={"name": f"AI files {uuid.uuid4().hex[:6]}"}, headers=engineer).json()["id"]
    r = gw.post("/ai/files", files={"file": ("radial.json", raw, "application/json")}, headers=engineer)
    assert r.status_code == 201, r.text
    item = r.json()["items"][0]
    assert item["media_type"] == "application/json" and item["size"] == len(raw)
    r = gw.post(
        f"/ai/files/{item['id']}/analyze", json={"study": True, "project_id": pid}, headers=engineer, timeout=90
    )
    assert r.status_code == 200, r.text
    analysis = r.json()
    assert analysis["kind"] == "circuit" and analysis["circuit"]["problems"] == []
    assert analysis["circuit"]["voltage_levels_kv"] == [13.8, 0.48, 0.208]
    study = analysis["study"]
    assert study["status"] == "succeeded", study
    # The numbers are the simulation service's own, and no model was asked.
    results = gw.get(f"/simulations/{study['run_id']}/results", params={"page_size": 100}, headers=engineer).json()
    first = study["worst_buses"][0]
    rows = [i for i in results["items"] if (i["fault"], i["case"]) == (first["fault"], first["case"])]
    assert first["worst"][0]["bus"] == max(rows, key=lambda i: i["values"]["ikss_ka"])["bus_id"]
    assert provider.requests == []
    r = gw.get(f"/ai/files/{item['id']}/content", headers=engineer)
    assert r.status_code == 200 and r.content == raw


def test_a_body_over_the_services_limit_is_a_413_from_the_gateway_not_a_502(gw, engineer):
    # Found by the fuzz test: a 19 MB chat request. The AI service refuses a declared length
    # over its 16 MiB document limit before reading any of it and closes; the gateway, still
    # streaming the body up, lost that 413 to the connection's reset and answered 502.
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * (17 * 1024 * 1024)}]})
    r = gw.post("/ai/v1/chat/completions", content=body, headers={**engineer, "Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/payload-too-large")
