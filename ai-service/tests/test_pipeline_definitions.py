"""Pipeline definitions: an engineer saves, lists, reads, replaces and deletes their pipelines;
every save is validated and a bad definition is a 422 naming the bad step's field."""

from __future__ import annotations

from typing import Any

import pytest


def three_steps() -> dict[str, Any]:
    return {
        "name": "Explain a study",
        "inputs": [{"name": "project_id"}, {"name": "circuit_id"}, {"name": "tone", "default": "plain"}],
        "steps": [
            {"name": "plan", "kind": "prompt", "prompt": "Plan a study of {{inputs.circuit_id}}."},
            {
                "name": "study",
                "kind": "tool",
                "tool": "start_study",
                "arguments": {"project_id": "{{inputs.project_id}}", "circuit_id": "{{inputs.circuit_id}}"},
            },
            {"name": "explain", "kind": "prompt", "prompt": "In a {{inputs.tone}} tone: {{steps.study.output}}"},
        ],
    }


def with_step(index: int, **fields: Any) -> dict[str, Any]:
    body = three_steps()
    body["steps"][index] = {"name": body["steps"][index]["name"], **fields}
    return body


async def test_an_engineer_saves_lists_reads_replaces_and_deletes_a_pipeline(client, company):
    user = company.user()
    r = await client.post("/ai/pipelines", json=three_steps(), headers=user.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"/ai/pipelines/{created['id']}"
    assert [s["name"] for s in created["steps"]] == ["plan", "study", "explain"]
    assert created["inputs"][2] == {"name": "tone", "description": "", "default": "plain"}

    page = (await client.get("/ai/pipelines", headers=user.headers)).json()
    assert page["total"] == 1 and page["page"] == 1 and page["items"][0]["id"] == created["id"]

    replaced = three_steps() | {"name": "Renamed"}
    replaced["steps"] = replaced["steps"][:1]
    r = await client.put(f"/ai/pipelines/{created['id']}", json=replaced, headers=user.headers)
    assert r.status_code == 200, r.text
    again = (await client.get(f"/ai/pipelines/{created['id']}", headers=user.headers)).json()
    assert again["name"] == "Renamed" and len(again["steps"]) == 1

    assert (await client.delete(f"/ai/pipelines/{created['id']}", headers=user.headers)).status_code == 204
    assert (await client.get(f"/ai/pipelines/{created['id']}", headers=user.headers)).status_code == 404


async def test_pipelines_are_private_to_their_author(client, company, other_company):
    author, colleague, stranger = company.user(), company.user(), other_company.user()
    created = (await client.post("/ai/pipelines", json=three_steps(), headers=author.headers)).json()
    for someone in (colleague, stranger):
        assert (await client.get(f"/ai/pipelines/{created['id']}", headers=someone.headers)).status_code == 404
        r = await client.post(f"/ai/pipelines/{created['id']}/execute", json={}, headers=someone.headers)
        assert r.status_code == 404
        assert (await client.get("/ai/pipelines", headers=someone.headers)).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        (with_step(1, kind="shell", prompt="rm -rf"), "steps[1].kind", "unknown_kind"),
        (with_step(1, kind="tool", tool="format_disk"), "steps[1].tool", "unknown_tool"),
        (with_step(2, kind="prompt", prompt="   "), "steps[2].prompt", "missing"),
        (with_step(2, kind="prompt", prompt="{{steps.nowhere.output}}"), "steps[2].prompt", "unknown_step"),
        (with_step(0, kind="prompt", prompt="{{steps.explain.output}}"), "steps[0].prompt", "later_step"),
        (with_step(0, kind="prompt", prompt="again: {{steps.plan.output}}"), "steps[0].prompt", "cycle"),
        (with_step(2, kind="prompt", prompt="{{inputs.undeclared}}"), "steps[2].prompt", "unknown_input"),
        (with_step(2, kind="prompt", prompt="{{secrets.key}}"), "steps[2].prompt", "bad_template"),
        (with_step(2, kind="prompt", prompt="x", tool="list_projects"), "steps[2].tool", "not_allowed"),
        (with_step(1, kind="study"), "steps[1].study", "missing"),
        (
            with_step(1, kind="tool", tool="start_study", arguments={"project_id": "{{steps.explain.output}}"}),
            "steps[1].arguments.project_id",
            "cycle",
        ),
    ],
)
async def test_an_invalid_definition_is_a_422_naming_the_bad_step(client, company, body, path, code):
    user = company.user()
    for attempt in ("create", "replace"):
        if attempt == "create":
            r = await client.post("/ai/pipelines", json=body, headers=user.headers)
        else:
            saved = (await client.post("/ai/pipelines", json=three_steps(), headers=user.headers)).json()
            r = await client.put(f"/ai/pipelines/{saved['id']}", json=body, headers=user.headers)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        errors = r.json()["errors"]
        assert {"path": path, "code": code} in [{"path": e["path"], "code": e["code"]} for e in errors], errors


async def test_a_cycle_through_later_steps_is_named_as_one(client, company):
    body = three_steps()
    body["steps"][0]["prompt"] = "{{steps.explain.output}}"
    body["steps"][2]["prompt"] = "{{steps.plan.output}}"
    r = await client.post("/ai/pipelines", json=body, headers=company.user().headers)
    assert r.status_code == 422
    cycle = next(e for e in r.json()["errors"] if e["path"] == "steps[0].prompt")
    assert cycle["code"] == "cycle" and "plan → explain → plan" in cycle["message"]


async def test_duplicate_names_and_shape_errors_name_their_path(client, company):
    user = company.user()
    body = three_steps()
    body["steps"][2]["name"] = "plan"
    body["inputs"].append({"name": "tone"})
    r = await client.post("/ai/pipelines", json=body, headers=user.headers)
    paths = {e["path"]: e["code"] for e in r.json()["errors"]}
    assert r.status_code == 422 and paths["steps[2].name"] == "duplicate" and paths["inputs[3].name"] == "duplicate"

    body = three_steps()
    body["steps"][1]["name"] = "has space"
    r = await client.post("/ai/pipelines", json=body, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "steps[1].name"

    r = await client.post("/ai/pipelines", json=three_steps() | {"steps": []}, headers=user.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "steps"
