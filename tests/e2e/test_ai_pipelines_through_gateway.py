"""AI pipelines through the real gateway: saved and validated by the AI service, executed by a
separate pipeline worker process over RabbitMQ, whose study step runs a real short-circuit study
on the simulation service with the caller's own token; the event stream shows every step."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from e2e.flows import bearer, register_and_login, sse_events

from ampflux_testing.circuits import CASES_DIR
from ampflux_testing.fake_provider import Reply
from ampflux_testing.polling import eventually_sync

pytestmark = pytest.mark.slow


def user_prompt(body: dict) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def test_prompt_then_study_then_an_explanation_runs_on_the_workers_and_streams_every_step(gw, engineer, provider):
    doc = json.loads((CASES_DIR / "ind480_radial.json").read_text())
    pid = gw.post("/projects/", json={"name": f"Pipe {uuid.uuid4().hex[:6]}"}, headers=engineer).json()["id"]
    r = gw.post(f"/projects/{pid}/circuits/", json={"name": "radial", "document": doc}, headers=engineer)
    assert r.status_code == 201, r.text
    circuit_id = r.json()["id"]

    def explain(body: dict) -> Reply:
        # The model is handed the study's stored output: answer with its own numbers.
        study = json.loads(user_prompt(body).split("\n", 1)[1])
        worst = study["results"]["worst_buses"][0]["worst"][0]
        return Reply(text=f"Worst bus {worst['bus']} at {worst['ikss_ka']} kA (run {study['run_id']}).")

    provider.queue(Reply(text="Check the three-phase maximum first."), explain)
    definition = {
        "name": "Study and explain",
        "inputs": [{"name": "project_id"}, {"name": "circuit_id"}],
        "steps": [
            {"name": "plan", "kind": "prompt", "prompt": "What should a study of {{inputs.circuit_id}} check?"},
            {
                "name": "study",
                "kind": "tool",
                "tool": "start_study",
                "arguments": {"project_id": "{{inputs.project_id}}", "circuit_id": "{{inputs.circuit_id}}"},
            },
            {"name": "explain", "kind": "prompt", "prompt": "Explain ({{steps.plan.output}}):\n{{steps.study.output}}"},
        ],
    }
    r = gw.post("/ai/pipelines", json=definition, headers=engineer)
    assert r.status_code == 201, r.text
    pipeline_id = r.json()["id"]

    r = gw.post(
        f"/ai/pipelines/{pipeline_id}/execute",
        json={"inputs": {"project_id": pid, "circuit_id": circuit_id}},
        headers=engineer,
    )
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/ai/pipeline-executions/{r.json()['id']}"
    execution_id = r.json()["id"]

    # Followed from the start through the gateway: the stream ends with the execution.
    with gw.stream(
        "GET", f"/ai/pipeline-executions/{execution_id}/events", headers=engineer, timeout=httpx.Timeout(120)
    ) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        events = sse_events(stream.read().decode())
    assert [(e["event"], e["data"].get("name")) for e in events] == [
        ("step_started", "plan"),
        ("step_finished", "plan"),
        ("step_started", "study"),
        ("step_finished", "study"),
        ("step_started", "explain"),
        ("step_finished", "explain"),
        ("execution_finished", None),
    ], events
    assert all(e["data"].get("status") in (None, "succeeded") for e in events), events

    done = gw.get(f"/ai/pipeline-executions/{execution_id}", headers=engineer).json()
    assert done["status"] == "succeeded", done
    study = done["steps"][1]["output"]
    assert study["status"] == "succeeded"
    # The numbers the model explained are the simulation service's own.
    results = gw.get(f"/simulations/{study['run_id']}/results", params={"page_size": 100}, headers=engineer).json()
    first = study["results"]["worst_buses"][0]
    rows = [i for i in results["items"] if (i["fault"], i["case"]) == (first["fault"], first["case"])]
    top = max(rows, key=lambda i: i["values"]["ikss_ka"])
    assert done["output"] == f"Worst bus {top['bus_id']} at {top['values']['ikss_ka']} kA (run {study['run_id']})."
    assert [s["tokens_in"] > 0 for s in done["steps"]] == [True, False, True]
    assert all(s["duration_ms"] > 0 and s["attempts"] == 1 for s in done["steps"])


def test_an_invalid_definition_is_a_422_naming_the_bad_step(gw, engineer):
    definition = {
        "name": "broken",
        "steps": [
            {"name": "a", "kind": "prompt", "prompt": "{{steps.b.output}}"},
            {"name": "b", "kind": "prompt", "prompt": "hello"},
            {"name": "c", "kind": "tool", "tool": "launch_rockets"},
        ],
    }
    r = gw.post("/ai/pipelines", json=definition, headers=engineer)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    found = {e["path"]: e["code"] for e in r.json()["errors"]}
    assert found == {"steps[0].prompt": "later_step", "steps[2].tool": "unknown_tool"}


def test_another_user_cannot_read_or_cancel_an_execution(gw, engineer, provider):
    provider.queue(Reply(text="slow", delay_s=2))
    r = gw.post(
        "/ai/pipelines", json={"name": "p", "steps": [{"name": "a", "kind": "prompt", "prompt": "x"}]}, headers=engineer
    )
    execution = gw.post(f"/ai/pipelines/{r.json()['id']}/execute", json={}, headers=engineer).json()
    _, tokens = register_and_login(gw)
    stranger = bearer(tokens)
    assert gw.get(f"/ai/pipeline-executions/{execution['id']}", headers=stranger).status_code == 404
    assert gw.post(f"/ai/pipeline-executions/{execution['id']}/cancel", headers=stranger).status_code == 404
    eventually_sync(
        lambda: gw.get(f"/ai/pipeline-executions/{execution['id']}", headers=engineer).json()["status"] == "succeeded",
        timeout=30,
        interval=0.1,
        what="the owner's execution to succeed",
    )
