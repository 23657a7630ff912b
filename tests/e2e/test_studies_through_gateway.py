"""Engineers run short-circuit studies on saved circuit versions: through the real gateway,
the project service's access rules, RabbitMQ and two solver worker processes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest
from e2e.flows import all_items, bearer, register_and_login

from ampflux_testing.circuits import CASES_DIR
from ampflux_testing.polling import eventually_sync

pytestmark = pytest.mark.slow

CASES = CASES_DIR
TERMINAL = {"succeeded", "failed", "cancelled"}


def case_files() -> list[Path]:
    files = sorted(CASES.glob("*.json"))
    assert files, f"no reference circuits at {CASES}"
    return files


def save_circuit(gw: httpx.Client, h: dict, doc: dict) -> tuple[str, str]:
    pid = gw.post("/projects/", json={"name": f"Study {uuid.uuid4().hex[:6]}"}, headers=h).json()["id"]
    r = gw.post(f"/projects/{pid}/circuits/", json={"name": doc["id"], "document": doc}, headers=h)
    assert r.status_code == 201, r.text
    return pid, r.json()["id"]


def wait_for(gw: httpx.Client, h: dict, run_id: str, timeout_s: float = 90) -> dict:
    last: dict = {}

    def finished() -> dict | None:
        last["run"] = run = gw.get(f"/simulations/{run_id}", headers=h).json()
        return run if run["status"] in TERMINAL else None

    return eventually_sync(
        finished, timeout=timeout_s, interval=0.2, what=lambda: f"run {run_id} to finish: {last.get('run')}"
    )


def rel_dev(ours, ref) -> float:
    if isinstance(ref, str) or isinstance(ours, str):
        assert str(ours) == str(ref)
        return 0.0
    return abs(ours - ref) / max(abs(ref), 1e-12)


@pytest.mark.parametrize("path", case_files(), ids=lambda p: p.stem)
def test_a_study_on_a_saved_version_gives_the_reference_results(gw, engineer, path):
    doc = json.loads(path.read_text())
    expected = doc.pop("expected")
    pid, cid = save_circuit(gw, engineer, doc)

    r = gw.post("/simulations", json={"project_id": pid, "circuit": {"circuit_id": cid}}, headers=engineer)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    run = wait_for(gw, engineer, r.json()["id"])
    assert run["status"] == "succeeded", run
    assert run["worker_id"], "solved by a worker process"

    items = all_items(gw, f"/simulations/{run['id']}/results", engineer)
    ours = {(i["fault"], i["case"], i["bus_id"]): i["values"] for i in items}
    worst, compared = 0.0, 0
    for rs in expected["result_sets"]:
        for bus, values in rs["buses"].items():
            for q, ref in values.items():
                got = ours[(rs["fault"], rs["case"], bus)][q]
                worst = max(worst, rel_dev(got, ref))
                compared += 1
    assert compared > 0
    assert worst <= 1e-4, f"largest relative deviation {worst:.2e} over {compared} quantities"


def test_two_workers_share_a_batch(gw, engineer, stack):
    doc = json.loads((CASES / "mv_meshed_20kv.json").read_text())
    doc.pop("expected")
    pid, cid = save_circuit(gw, engineer, doc)
    ids = []
    for _ in range(8):
        r = gw.post("/simulations", json={"project_id": pid, "circuit": {"circuit_id": cid}}, headers=engineer)
        assert r.status_code == 202
        ids.append(r.json()["id"])
    runs = [wait_for(gw, engineer, i) for i in ids]
    assert all(r["status"] == "succeeded" for r in runs)
    assert len({r["worker_id"] for r in runs}) == 2, "both worker processes took jobs"


def test_retried_post_with_the_same_idempotency_key_creates_one_run(gw, engineer):
    doc = json.loads((CASES / "edge_parallel_transformers.json").read_text())
    doc.pop("expected")
    pid, cid = save_circuit(gw, engineer, doc)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"project_id": pid, "circuit": {"circuit_id": cid}}
    first = gw.post("/simulations", json=body, headers={**engineer, **key})
    again = gw.post("/simulations", json=body, headers={**engineer, **key})
    assert first.status_code == 202 and again.status_code in (200, 202)
    assert first.json()["id"] == again.json()["id"]
    listed = gw.get("/simulations", params={"project_id": pid}, headers=engineer).json()
    assert listed["total"] == 1


def test_a_malformed_inline_circuit_is_refused_with_every_error(gw, engineer):
    doc = json.loads((CASES / "edge_parallel_transformers.json").read_text())
    doc.pop("expected")
    pid, _ = save_circuit(gw, engineer, doc)
    doc["lines"] = [
        {
            "id": "X",
            "from_bus": "NOPE",
            "to_bus": doc["buses"][0]["id"],
            "length_km": -2,
            "r_ohm_per_km": 0.1,
            "x_ohm_per_km": 0.1,
        }
    ]
    r = gw.post("/simulations", json={"project_id": pid, "document": doc}, headers=engineer)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    paths = {e["path"] for e in r.json()["errors"]}
    assert any("from_bus" in p for p in paths) and any("length_km" in p for p in paths), paths


def test_another_company_cannot_study_or_read_a_project(gw, engineer):
    doc = json.loads((CASES / "edge_parallel_transformers.json").read_text())
    doc.pop("expected")
    pid, cid = save_circuit(gw, engineer, doc)
    run = gw.post("/simulations", json={"project_id": pid, "circuit": {"circuit_id": cid}}, headers=engineer).json()
    _, stranger_tokens = register_and_login(gw)
    stranger = bearer(stranger_tokens)
    r = gw.post("/simulations", json={"project_id": pid, "circuit": {"circuit_id": cid}}, headers=stranger)
    assert r.status_code == 404
    assert gw.get(f"/simulations/{run['id']}", headers=stranger).status_code == 404


def test_live_status_streams_through_the_gateway_until_the_run_ends(gw, engineer):
    doc = json.loads((CASES / "ind480_radial.json").read_text())
    doc.pop("expected")
    pid, cid = save_circuit(gw, engineer, doc)
    run = gw.post("/simulations", json={"project_id": pid, "circuit": {"circuit_id": cid}}, headers=engineer).json()
    seen = []
    with gw.stream("GET", f"/simulations/{run['id']}/events", headers=engineer, timeout=60) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("event:"):
                seen.append(line.split(":", 1)[1].strip())
    assert seen, "no events"
    assert seen[-1] == "succeeded", seen


def test_the_frontend_simulate_route_starts_a_study(gw, engineer):
    doc = json.loads((CASES / "edge_parallel_transformers.json").read_text())
    doc.pop("expected")
    pid, cid = save_circuit(gw, engineer, doc)
    keyed = {**engineer, "Idempotency-Key": f"frontend-{cid}"}
    r = gw.post(f"/circuits/{pid}/simulate", json={"circuit_id": cid}, headers=keyed)
    assert r.status_code == 202, r.text
    # One hop to the solver tier: the run's own headers reach the caller.
    assert r.headers["Location"] == f"/simulations/{r.json()['id']}"
    again = gw.post(f"/circuits/{pid}/simulate", json={"circuit_id": cid}, headers=keyed)
    assert again.status_code == 202, again.text
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == r.json()["id"]
    run = wait_for(gw, engineer, r.json()["id"])
    assert run["status"] == "succeeded"

    # simulation.run.completed reaches the project service: the version shows its latest study.
    def latest_study() -> dict | None:
        study = gw.get(f"/projects/{pid}/circuits/{cid}/versions/1", headers=engineer).json()["latest_study"]
        return study if study and study["run_id"] == run["id"] else None

    study = eventually_sync(latest_study, timeout=30, interval=0.2, what="the version's latest study to be this run")
    assert study and study["run_id"] == run["id"], study
    assert study["status"] == "succeeded"
