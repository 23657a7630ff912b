"""The tool loop: tools act with the caller's own token, their errors go back to the model,
and the loop is bounded. The platform services are stood in for by an httpx MockTransport
here; tests/e2e runs the same tools against the real project and simulation services."""

from __future__ import annotations

import json

import httpx
import jwt

from ampflux_ai.domain.tools import summarise_document, worst_buses


def _tool_messages(body):
    return [m for m in body["messages"] if m.get("role") == "tool"]


async def test_a_tool_call_runs_with_the_callers_token_and_its_result_reaches_the_model(
    settings, company, fake, app_client, h
):
    seen: list[httpx.Request] = []

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/projects/":
            return httpx.Response(
                200, json={"items": [{"id": "p1", "name": "Plant 1"}], "total": 1, "page": 1, "page_size": 50}
            )
        return httpx.Response(404, json={"title": "Not Found", "status": 404, "detail": "project not found"})

    def answer(body):
        results = [json.loads(m["content"]) for m in _tool_messages(body)]
        return h.Reply(text=f"You have {results[0]['total']} project: {results[0]['projects'][0]['name']} (p1).")

    fake.queue(h.Reply(tool_calls=[{"name": "list_projects", "arguments": {}}]), answer)
    async for client in app_client(settings, tool_transport=httpx.MockTransport(platform)):
        h = type(h)(client)
        user = company.user()
        conv = await h.conversation(user)
        r = await h.send(user, conv, "what projects do I have?", stream=True)
        events = h.parse_sse(r.text)
        kinds = [e["event"] for e in events]
        assert kinds[:2] == ["tool_call", "tool_result"] and kinds[-1] == "complete"
        assert events[1]["data"]["ok"] is True
        assert events[-1]["data"]["full_text"] == "You have 1 project: Plant 1 (p1)."
        # The tool called the project service as the user, with the user's own token.
        token = seen[0].headers["authorization"].removeprefix("Bearer ")
        assert jwt.decode(token, options={"verify_signature": False})["sub"] == str(user.id)
        # The model was offered the tools and got the result back in a tool message.
        assert {t["function"]["name"] for t in fake.chat_requests[0]["tools"]} >= {"list_projects", "start_study"}
        full = (await client.get(f"/ai/conversations/{conv['id']}", headers=user.headers)).json()
        call = full["messages"][-1]["tool_calls"][0]
        assert call["name"] == "list_projects" and call["ok"] is True and call["result"]["total"] == 1
        metrics = (await client.get("/metrics")).text
        assert 'ampflux_ai_tool_calls_total{outcome="ok",tool="list_projects"} 1.0' in metrics


async def test_tool_errors_go_back_to_the_model_never_a_500(settings, company, fake, app_client, h):
    def platform(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"title": "Not Found", "status": 404, "detail": "project not found"})

    fake.queue(
        h.Reply(
            tool_calls=[{"name": "summarise_circuit_version", "arguments": {"project_id": "x", "circuit_id": "y"}}]
        ),
        h.Reply(
            tool_calls=[{"name": "create_circuit", "arguments": {"project_id": "x", "document": {"format": "nope"}}}]
        ),
        h.Reply(tool_calls=[{"name": "no_such_tool", "arguments": {}}]),
        h.Reply(text="I could not reach that project."),
    )
    async for client in app_client(settings, tool_transport=httpx.MockTransport(platform)):
        h = type(h)(client)
        user = company.user()
        conv = await h.conversation(user)
        r = await h.send(user, conv, "summarise it")
        assert r.status_code == 200, r.text
        calls = r.json()["tool_calls"]
        assert [c["ok"] for c in calls] == [False, False, False]
        assert "404" in calls[0]["result"]["error"] and "project not found" in calls[0]["result"]["error"]
        # The invalid document never reached the project service; its problems went to the model.
        assert "not valid" in calls[1]["result"]["error"]
        assert "unknown tool" in calls[2]["result"]["error"]
        last = fake.chat_requests[-1]
        assert len(_tool_messages(last)) == 3


async def test_the_tool_loop_is_bounded(settings, company, fake, app_client, h):
    def platform(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [], "total": 0, "page": 1, "page_size": 50})

    loop = h.Reply(tool_calls=[{"name": "list_projects", "arguments": {}}])
    fake.queue(*[loop] * 2, h.Reply(text="Done looking."))
    async for client in app_client(
        settings.model_copy(update={"max_tool_rounds": 3}), tool_transport=httpx.MockTransport(platform)
    ):
        h = type(h)(client)
        user = company.user()
        conv = await h.conversation(user)
        r = await h.send(user, conv, "loop")
        assert r.json()["content"] == "Done looking." and len(r.json()["tool_calls"]) == 2
        assert len(fake.chat_requests) == 3
        # The last round offers no tools, so the model must answer in words.
        assert "tools" not in fake.chat_requests[-1]


def test_summary_and_worst_buses():
    doc = {
        "format": "circuit-document",
        "version": 1,
        "id": "t",
        "study": {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"]},
        "buses": [{"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 0.4}],
        "ext_grids": [{"id": "G", "bus": "MV", "s_sc_max_mva": 400.0, "rx_max": 0.1}],
    }
    s = summarise_document(doc)
    assert s["voltage_levels_kv"] == [20.0, 0.4] and s["sources"]["ext_grids"] == 1 and s["buses"] == ["MV", "LV"]
    assert any(p["code"] for p in s["problems"])  # LV is not supplied
    rows = [
        {"fault": "3ph", "case": "max", "bus_id": b, "values": {"ikss_ka": v}}
        for b, v in (("A", 1.0), ("B", 9.0), ("C", 5.0))
    ]
    assert [w["bus"] for w in worst_buses({"items": rows})[0]["worst"]] == ["B", "C", "A"]
