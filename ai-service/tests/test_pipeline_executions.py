"""Executing pipelines in the embedded mode (the API process is its own worker): steps run in
order with templates filled from inputs and earlier outputs, each result stored with its
timing and tokens, the event stream shows every step, and cancel, failures and an expired
token end an execution clearly. The platform services are an httpx MockTransport here; the
e2e test runs a real study through the gateway."""

from __future__ import annotations

import json
import time
import uuid
from functools import partial
from typing import Any

import httpx
import jwt
import pytest

from ampflux_ai.config import Settings
from ampflux_ai.domain.credentials import credential_keyring
from ampflux_testing.fake_provider import Reply
from ampflux_testing.polling import eventually
from ampflux_testing.sse import parse_sse


async def save(client: httpx.AsyncClient, user, steps: list[dict[str, Any]], inputs=None) -> dict[str, Any]:
    body = {"name": "p", "inputs": inputs or [], "steps": steps}
    r = await client.post("/ai/pipelines", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def execute(client: httpx.AsyncClient, user, pipeline: dict[str, Any], **inputs: Any) -> dict[str, Any]:
    r = await client.post(f"/ai/pipelines/{pipeline['id']}/execute", json={"inputs": inputs}, headers=user.headers)
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/ai/pipeline-executions/{r.json()['id']}"
    return r.json()


async def wait_for(client: httpx.AsyncClient, user, execution_id: str, *statuses: str, timeout_s: float = 20):
    seen: list[dict] = []

    async def reached() -> dict | None:
        seen.append((await client.get(f"/ai/pipeline-executions/{execution_id}", headers=user.headers)).json())
        return seen[-1] if seen[-1]["status"] in statuses else None

    return await eventually(reached, timeout=timeout_s, what=lambda: f"{' or '.join(statuses)}: {seen[-1]}")


async def _second_step_running(client: httpx.AsyncClient, user, execution_id: str) -> bool:
    body = await wait_for(client, user, execution_id, "running")
    return [s["status"] for s in body["steps"]][:2] == ["succeeded", "running"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A running step checks this often whether its execution is still its own (cancelled,
    # failed by a dead letter): the tests wait for that check, never out a second's poll.
    return settings.model_copy(update={"pipeline_cancel_poll_s": 0.05})


async def stopped_runs(client: httpx.AsyncClient, count: int, timeout_s: float = 10) -> None:
    """Until the worker has let go of `count` executions it no longer owns (cancelled, failed
    under it): their steps stopped at the cancel check, nothing more is written."""
    line = f'ampflux_ai_pipeline_executions_total{{outcome="stopped"}} {count:.1f}'

    async def stopped() -> bool:
        return line in (await client.get("/metrics")).text

    await eventually(stopped, timeout=timeout_s, interval=0.02, what=line)


def user_prompts(fake) -> list[str]:
    return [next(m["content"] for m in r["messages"] if m["role"] == "user") for r in fake.chat_requests]


async def test_three_prompts_run_in_order_with_outputs_feeding_the_next(client, company, fake, h):
    fake.queue(h.Reply(text="Bus B2 first."), h.Reply(text="Because it is closest."), h.Reply(text="Done: B2."))
    user = company.user()
    pipeline = await save(
        client,
        user,
        [
            {"name": "pick", "kind": "prompt", "prompt": "Which bus of {{inputs.circuit}}?"},
            {"name": "why", "kind": "prompt", "prompt": "Why {{steps.pick.output}}", "system": "Be brief."},
            {"name": "sum", "kind": "prompt", "prompt": "{{steps.pick.output}} / {{steps.why.output}}"},
        ],
        inputs=[{"name": "circuit"}],
    )
    started = await execute(client, user, pipeline, circuit="Plant 7")
    assert started["status"] == "queued" and [s["status"] for s in started["steps"]] == ["pending"] * 3
    # The stream, opened at once, ends with the execution and shows every step.
    stream = await client.get(f"/ai/pipeline-executions/{started['id']}/events", headers=user.headers)
    events = h.parse_sse(stream.text)
    assert [(e["event"], e["id"]) for e in events] == [
        ("step_started", "1"),
        ("step_finished", "2"),
        ("step_started", "3"),
        ("step_finished", "4"),
        ("step_started", "5"),
        ("step_finished", "6"),
        ("execution_finished", "7"),
    ]
    assert events[-1]["data"]["status"] == "succeeded" and events[-1]["data"]["output"] == "Done: B2."
    assert events[3]["data"]["output"] == "Because it is closest." and events[3]["data"]["tokens_out"] > 0

    done = await wait_for(client, user, started["id"], "succeeded")
    assert done["output"] == "Done: B2." and done["credentials_expire_at"] is None
    assert [s["output"] for s in done["steps"]] == ["Bus B2 first.", "Because it is closest.", "Done: B2."]
    for step in done["steps"]:
        assert step["status"] == "succeeded" and step["attempts"] == 1 and step["model"] == fake.model
        assert step["tokens_in"] == 11 and step["tokens_out"] >= 1 and step["duration_ms"] > 0
        assert step["started_at"] <= step["finished_at"]
    assert done["tokens_in"] == 33
    assert user_prompts(fake) == [
        "Which bus of Plant 7?",
        "Why Bus B2 first.",
        "Bus B2 first. / Because it is closest.",
    ]
    assert fake.chat_requests[1]["messages"][0] == {"role": "system", "content": "Be brief."}
    # The pipeline lists its executions (its author only).
    listed = (await client.get(f"/ai/pipelines/{pipeline['id']}/executions", headers=user.headers)).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == started["id"]
    assert listed["items"][0]["status"] == "succeeded" and "steps" not in listed["items"][0]
    other = company.user()
    assert (await client.get(f"/ai/pipelines/{pipeline['id']}/executions", headers=other.headers)).status_code == 404
    # A client that reconnects after event 4 gets the rest only.
    again = await client.get(
        f"/ai/pipeline-executions/{started['id']}/events", headers={**user.headers, "Last-Event-ID": "4"}
    )
    assert [e["id"] for e in h.parse_sse(again.text)] == ["5", "6", "7"]
    # The tokens count towards the company's usage, and the worker's figures are exported.
    metrics = (await client.get("/metrics")).text
    assert 'ampflux_ai_pipeline_executions_total{outcome="succeeded"} 1.0' in metrics
    assert 'ampflux_ai_pipeline_steps_total{kind="prompt",outcome="succeeded"} 3.0' in metrics


# Tests with an app of their own (`app_client`) take no `client` or `h`: a second app on the same
# database would run the executions too.
async def test_tool_and_study_steps_act_with_the_callers_token(settings, company, fake, app_client):
    seen: list[httpx.Request] = []
    run_id = str(uuid.uuid4())

    def platform(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/projects/":
            return httpx.Response(200, json={"items": [{"id": "p1", "name": "Plant"}], "total": 1, "page": 1})
        if request.url.path.endswith("/simulate"):
            return httpx.Response(202, json={"id": run_id, "status": "succeeded"})
        if request.url.path == f"/simulations/{run_id}/results":
            row = {"fault": "3ph", "case": "max", "bus_id": "B1", "values": {"ikss_ka": 12.5}}
            return httpx.Response(200, json={"items": [row], "total": 1})
        return httpx.Response(404, json={"detail": "no"})

    fake.queue(Reply(text="B1 has 12.5 kA."))
    async for client in app_client(settings, tool_transport=httpx.MockTransport(platform)):
        user = company.user()
        pipeline = await save(
            client,
            user,
            [
                {"name": "projects", "kind": "tool", "tool": "list_projects"},
                {
                    "name": "study",
                    "kind": "study",
                    "study": {
                        "project_id": "{{steps.projects.output.projects.0.id}}",
                        "circuit_id": "{{inputs.circuit_id}}",
                        "options": {"faults": ["3ph"]},
                    },
                },
                {"name": "explain", "kind": "prompt", "prompt": "Explain {{steps.study.output.results}}"},
            ],
            inputs=[{"name": "circuit_id"}],
        )
        started = await execute(client, user, pipeline, circuit_id="c9")
        assert started["credentials_expire_at"] is not None
        done = await wait_for(client, user, started["id"], "succeeded", "failed")
        assert done["status"] == "succeeded", (done["error"], done["steps"])
        assert done["steps"][1]["output"]["run_id"] == run_id and done["credentials_expire_at"] is None
        simulate = next(r for r in seen if r.url.path.endswith("/simulate"))
        assert simulate.url.path == "/circuits/p1/simulate"
        assert json.loads(simulate.content) == {"circuit_id": "c9", "options": {"faults": ["3ph"]}}
        for request in seen:
            token = request.headers["authorization"].removeprefix("Bearer ")
            assert jwt.decode(token, options={"verify_signature": False})["sub"] == str(user.id)
        assert '"ikss_ka": 12.5' in user_prompts(fake)[0]


async def test_a_failed_step_fails_the_execution_and_skips_the_rest(settings, company, fake, app_client):
    def platform(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/simulate"):
            return httpx.Response(202, json={"id": "r1", "status": "failed", "error": "no source"})
        return httpx.Response(404, json={"detail": "no"})

    async for client in app_client(settings, tool_transport=httpx.MockTransport(platform)):
        user = company.user()
        pipeline = await save(
            client,
            user,
            [
                {"name": "study", "kind": "study", "study": {"project_id": "p", "circuit_id": "c"}},
                {"name": "explain", "kind": "prompt", "prompt": "{{steps.study.output}}"},
            ],
        )
        started = await execute(client, user, pipeline)
        done = await wait_for(client, user, started["id"], "failed", "succeeded")
        assert done["status"] == "failed" and "step 'study' failed" in done["error"] and "no source" in done["error"]
        assert [s["status"] for s in done["steps"]] == ["failed", "skipped"]
        assert fake.chat_requests == []
        stream = await client.get(f"/ai/pipeline-executions/{started['id']}/events", headers=user.headers)
        events = parse_sse(stream.text)
        assert [e["event"] for e in events] == ["step_started", "step_finished", "step_finished", "execution_finished"]
        assert events[2]["data"]["status"] == "skipped" and events[3]["data"]["status"] == "failed"


async def test_a_provider_failure_fails_its_step_with_the_reason(client, company, fake, h):
    fake.queue(h.Reply(fail_status=500))
    user = company.user()
    pipeline = await save(client, user, [{"name": "ask", "kind": "prompt", "prompt": "hi"}])
    done = await wait_for(client, user, (await execute(client, user, pipeline))["id"], "failed")
    assert "HTTP 500" in done["steps"][0]["error"]


async def test_cancel_stops_a_running_execution(client, company, fake, h):
    fake.queue(h.Reply(text="slow", delay_s=3))
    user = company.user()
    pipeline = await save(
        client,
        user,
        [{"name": "slow", "kind": "prompt", "prompt": "a"}, {"name": "next", "kind": "prompt", "prompt": "b"}],
    )
    started = await execute(client, user, pipeline)
    await wait_for(client, user, started["id"], "running")
    r = await client.post(f"/ai/pipeline-executions/{started['id']}/cancel", headers=user.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert [s["status"] for s in r.json()["steps"]] == ["cancelled", "cancelled"]
    again = await client.post(f"/ai/pipeline-executions/{started['id']}/cancel", headers=user.headers)
    assert again.status_code == 409 and again.json()["type"].endswith("/ai-pipeline-execution-finished")
    await stopped_runs(client, 1)  # the worker's next cancel check stops it; it writes nothing more
    final = (await client.get(f"/ai/pipeline-executions/{started['id']}", headers=user.headers)).json()
    assert final["status"] == "cancelled" and [s["status"] for s in final["steps"]] == ["cancelled", "cancelled"]
    assert len(fake.chat_requests) == 1


async def test_an_expired_caller_token_fails_the_tool_step_clearly(client, company, fake, h):
    fake.queue(h.Reply(text="first"))
    user = company.user()
    pipeline = await save(
        client,
        user,
        [{"name": "first", "kind": "prompt", "prompt": "a"}, {"name": "tool", "kind": "tool", "tool": "list_projects"}],
    )
    # A token with five seconds left (exp is in whole seconds: four to five), still good for
    # the request: the prompt step needs none, and when the tool step starts less than the
    # margin (credentials.EXPIRY_MARGIN, 5 s) is left.
    short = {"Authorization": f"Bearer {user.signer.sign(user.id, user.company_id, user.roles, ttl_s=5)}"}
    r = await client.post(f"/ai/pipelines/{pipeline['id']}/execute", json={}, headers=short)
    assert r.status_code == 202
    done = await wait_for(client, user, r.json()["id"], "failed", "succeeded")
    assert done["steps"][0]["status"] == "succeeded" and done["steps"][1]["status"] == "failed"
    assert "the caller's token expired" in done["steps"][1]["error"]


async def test_inputs_are_checked_when_executing(client, company):
    user = company.user()
    pipeline = await save(
        client, user, [{"name": "a", "kind": "prompt", "prompt": "{{inputs.x}}"}], inputs=[{"name": "x"}]
    )
    r = await client.post(f"/ai/pipelines/{pipeline['id']}/execute", json={"inputs": {"y": 1}}, headers=user.headers)
    assert r.status_code == 422
    assert {e["path"] for e in r.json()["errors"]} == {"inputs.x", "inputs.y"}


def test_without_keys_only_the_embedded_mode_can_seal_callers_tokens(tmp_path):
    assert credential_keyring(Settings(data_dir=tmp_path, key_encryption_keys="", amqp_url="")) is not None
    assert credential_keyring(Settings(data_dir=tmp_path, key_encryption_keys="", amqp_url="amqp://x")) is None


async def test_the_embedded_mode_takes_up_an_execution_left_open_by_a_restart(
    settings, company, fake, app_client, monkeypatch
):
    from ampflux_ai.pipeline_jobs import lifecycle

    # Stop at once instead of waiting for the slow step to finish.
    monkeypatch.setattr(lifecycle, "EMBEDDED_STOP_GRACE_S", 0.1)
    fake.queue(Reply(text="one"), Reply(text="never stored", delay_s=5), Reply(text="two"), Reply(text="three"))
    user = company.user()
    async for client in app_client(settings):
        pipeline = await save(
            client,
            user,
            [
                {"name": "a", "kind": "prompt", "prompt": "first"},
                {"name": "b", "kind": "prompt", "prompt": "second after {{steps.a.output}}"},
                {"name": "c", "kind": "prompt", "prompt": "third after {{steps.b.output}}"},
            ],
        )
        started = await execute(client, user, pipeline)
        await eventually(
            partial(_second_step_running, client, user, started["id"]), timeout=20, what="the second step under way"
        )
    # The process stopped mid-step; the next start takes the execution up at that step.
    async for client in app_client(settings):
        done = await wait_for(client, user, started["id"], "succeeded", "failed")
        assert done["status"] == "succeeded" and done["output"] == "three"
        assert [s["attempts"] for s in done["steps"]] == [1, 2, 1]
    assert user_prompts(fake) == ["first", "second after one", "second after one", "third after two"]


async def test_a_crash_outside_any_step_fails_the_execution_instead_of_leaving_it_running(
    client, company, fake, h, monkeypatch
):
    from ampflux_ai.pipeline_jobs.runner import ExecutionRunner

    async def broken(self, mine):
        raise RuntimeError("boom")

    monkeypatch.setattr(ExecutionRunner, "_run", broken)
    user = company.user()
    pipeline = await save(client, user, [{"name": "a", "kind": "prompt", "prompt": "x"}])
    done = await wait_for(client, user, (await execute(client, user, pipeline))["id"], "failed")
    assert done["error"] == "internal error: RuntimeError: boom"
    assert [s["status"] for s in done["steps"]] == ["skipped"]


async def test_the_embedded_default_on_sqlite_runs_a_pipeline_and_streams_it(settings, company, fake, app_client):
    # `make run`: SQLite, no NOTIFY (the stream polls), the API process runs the steps.
    embedded = settings.model_copy(update={"database_url": "", "pipeline_events_poll_s": 0.05})
    fake.queue(Reply(text="one"), Reply(text="two"))
    async for client in app_client(embedded):
        assert client.app.state.execution_changes.listening is False  # type: ignore[attr-defined]
        user = company.user()
        pipeline = await save(
            client,
            user,
            [
                {"name": "a", "kind": "prompt", "prompt": "first"},
                {"name": "b", "kind": "prompt", "prompt": "then {{steps.a.output}}"},
            ],
        )
        started = await execute(client, user, pipeline)
        stream = await client.get(f"/ai/pipeline-executions/{started['id']}/events", headers=user.headers)
        events = parse_sse(stream.text)
        assert [e["event"] for e in events] == ["step_started", "step_finished"] * 2 + ["execution_finished"]
        done = await wait_for(client, user, started["id"], "succeeded")
        assert done["output"] == "two" and user_prompts(fake) == ["first", "then one"]


async def test_a_duplicate_delivery_waits_for_the_running_execution_and_redoes_nothing(client, company, fake, h):
    from ampflux_ai.pipeline_jobs import ExecutionJob

    # Slow enough for the poll below to see it running (the duplicate is handled at once after).
    fake.queue(h.Reply(text="slow", delay_s=0.4), h.Reply(text="next"))
    user = company.user()
    pipeline = await save(
        client,
        user,
        [{"name": "a", "kind": "prompt", "prompt": "first"}, {"name": "b", "kind": "prompt", "prompt": "second"}],
    )
    started = await execute(client, user, pipeline)
    await wait_for(client, user, started["id"], "running")
    runner = client.app.state.pipeline_runner  # type: ignore[attr-defined]
    await runner.handle(ExecutionJob(uuid.UUID(started["id"]), uuid.uuid4()))
    # It returned only once the execution had ended here, without running anything itself.
    body = (await client.get(f"/ai/pipeline-executions/{started['id']}", headers=user.headers)).json()
    assert body["status"] == "succeeded" and body["attempts"] == 1
    assert user_prompts(fake) == ["first", "second"]


async def test_a_dead_letter_whose_limit_redeliveries_spent_is_requeued_not_failed(client, company, fake, h):
    # RabbitMQ counts a broker restart's redeliveries towards x-delivery-limit: an execution
    # claimed no more often than the limit allows was not given up on by its workers.
    from ampflux_ai.pipeline_jobs.store import fail_dead_lettered

    fake.queue(h.Reply(text="slow", delay_s=3))
    user = company.user()
    pipeline = await save(client, user, [{"name": "slow", "kind": "prompt", "prompt": "a"}])
    started = await execute(client, user, pipeline)
    running = await wait_for(client, user, started["id"], "running")
    execution_id = uuid.UUID(started["id"])
    database = client.app.state.db  # type: ignore[attr-defined]
    assert await fail_dead_lettered(database, execution_id, "delivery limit", requeue_within=5) == "requeue"
    assert (await client.get(f"/ai/pipeline-executions/{started['id']}", headers=user.headers)).json()[
        "status"
    ] == running["status"]
    # Claimed more often than the limit: a job that kills its workers, failed as before.
    assert await fail_dead_lettered(database, execution_id, "delivery limit", requeue_within=0) == "failed"
    failed = (await client.get(f"/ai/pipeline-executions/{started['id']}", headers=user.headers)).json()
    assert failed["status"] == "failed" and "given up after 1 attempt(s)" in failed["error"]
    assert await fail_dead_lettered(database, execution_id, "again") == "done"
    # The step under way stops at its next cancel check (the app's stop would wait for it).
    await stopped_runs(client, 1)


async def test_stopping_waits_for_the_execution_under_way_and_no_longer(
    settings, company, fake, app_client, monkeypatch
):
    from ampflux_ai.pipeline_jobs import lifecycle

    # A grace far longer than the step: the stop must end when the execution does. (It used
    # to wait on the task running the execution, in the embedded mode the in-process bus's
    # consumer loop, which never ends: every stop waited the whole grace.)
    monkeypatch.setattr(lifecycle, "EMBEDDED_STOP_GRACE_S", 30.0)
    fake.queue(Reply(text="finished within the grace", delay_s=0.5))
    user = company.user()
    async for client in app_client(settings):
        pipeline = await save(client, user, [{"name": "a", "kind": "prompt", "prompt": "x"}])
        started = await execute(client, user, pipeline)
        await wait_for(client, user, started["id"], "running")
        stopping = time.monotonic()
    stopped_in = time.monotonic() - stopping
    assert stopped_in < 10, f"the stop took {stopped_in:.1f} s for a 0.5 s step"
    async for client in app_client(settings):
        done = await wait_for(client, user, started["id"], "succeeded", "failed")
        assert done["status"] == "succeeded" and done["output"] == "finished within the grace"
        assert [s["attempts"] for s in done["steps"]] == [1]
