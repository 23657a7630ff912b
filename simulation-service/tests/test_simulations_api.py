"""An engineer submits studies of inline circuits and reads, filters, downloads and compares results."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import threading
import uuid

import pytest
from sqlalchemy import select

from ampflux_shared.circuit import document_sha256
from ampflux_shared.circuit.schema import circuit_document_components, circuit_document_schema
from ampflux_simulation.models import event_tables

REL_TOL = 1e-4


def assert_matches_reference(result_items: list[dict], expected: dict) -> None:
    got = {(r["fault"], r["case"], r["bus_id"]): r["values"] for r in result_items}
    for rs in expected["result_sets"]:
        for bus_id, values in rs["buses"].items():
            row = got[(rs["fault"], rs["case"], bus_id)]
            for q in rs["quantities"]:
                want, have = values[q], row[q]
                if isinstance(want, str) or isinstance(have, str):
                    assert have == want, (rs["fault"], rs["case"], bus_id, q)
                else:
                    assert math.isclose(have, want, rel_tol=REL_TOL, abs_tol=1e-9), (
                        rs["fault"],
                        rs["case"],
                        bus_id,
                        q,
                        have,
                        want,
                    )


async def test_inline_circuit_reproduces_the_reference_results(api, reference_case, helpers):
    response = await api.submit(helpers.without_expected(reference_case))
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["status"] == "queued"
    assert response.headers["Location"] == f"/simulations/{run['id']}"

    finished = await api.wait(run["id"])
    assert finished["status"] == "succeeded", finished["error"]
    assert finished["progress"] == 1.0
    timings = finished["timings"]
    assert timings["started_at"] and timings["finished_at"]
    assert timings["queue_wait_seconds"] >= 0 and timings["solve_seconds"] > 0

    items = await api.all_results(run["id"])
    n_sets = len(reference_case["expected"]["result_sets"])
    assert len(items) == n_sets * len(reference_case["buses"])
    assert_matches_reference(items, reference_case["expected"])


async def test_the_same_document_with_20_or_20_0_is_the_same_input(api, helpers):
    as_floats = helpers.without_expected(helpers.load_case("mv_meshed_20kv"))
    assert [b["vn_kv"] for b in as_floats["buses"]][:3] == [110.0, 110.0, 20.0]
    as_ints = copy.deepcopy(as_floats)
    for bus in as_ints["buses"]:
        bus["vn_kv"] = int(bus["vn_kv"]) if float(bus["vn_kv"]).is_integer() else bus["vn_kv"]
    assert json.dumps(as_floats) != json.dumps(as_ints)

    a = (await api.submit(as_floats)).json()
    b = (await api.submit(as_ints)).json()
    # The project service hashes its versions with the same shared function.
    assert a["document_sha256"] == b["document_sha256"] == document_sha256(as_ints) == document_sha256(as_floats)


async def test_a_malformed_circuit_is_refused_with_every_problem_and_its_path(api, helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    document["buses"][1]["vn_kv"] = -1
    document["lines"][0]["to_bus"] = "NOWHERE"
    response = await api.submit(document, options={"buses": ["GHOST"]})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    paths = {e["path"] for e in problem["errors"]}
    assert "document.buses[1].vn_kv" in paths
    assert any(p.startswith("document.lines[0]") for p in paths)
    assert "options.buses[0]" in paths
    listed = await api.client.get("/simulations", headers=api.headers)
    assert listed.json()["total"] == 0  # nothing was queued


async def test_a_request_needs_exactly_one_circuit_source(api):
    response = await api.client.post("/simulations", json={"project_id": str(uuid.uuid4())}, headers=api.headers)
    assert response.status_code == 422
    both = {"project_id": str(uuid.uuid4()), "document": {}, "circuit": {"circuit_id": str(uuid.uuid4())}}
    assert (await api.client.post("/simulations", json=both, headers=api.headers)).status_code == 422


async def test_submitting_needs_a_token_and_a_role_that_may_run_studies(api, helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    body = {"project_id": str(uuid.uuid4()), "document": document}
    assert (await api.client.post("/simulations", json=body)).status_code == 401
    viewer = api.auth.headers(api.company_id, roles=("viewer",))
    assert (await api.client.post("/simulations", json=body, headers=viewer)).status_code == 403


async def test_a_retried_post_with_the_same_idempotency_key_returns_the_same_run(api, helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    project_id = await api.new_project()
    key = {"Idempotency-Key": "retry-" + uuid.uuid4().hex}
    first = await api.submit(document, project_id=project_id, headers=key)
    second = await api.submit(document, project_id=project_id, headers=key)
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    listed = await api.client.get("/simulations", params={"project_id": str(project_id)}, headers=api.headers)
    assert listed.json()["total"] == 1

    # The same key for a different request is a client error, not a silent replay.
    other = await api.submit(document, project_id=project_id, headers=key, options={"tk_s": 0.5})
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    await api.wait(first.json()["id"])


async def test_another_companys_run_is_not_found(api, helpers):
    run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
    await api.wait(run["id"])
    stranger = api.auth.headers(uuid.uuid4())
    for path in (f"/simulations/{run['id']}", f"/simulations/{run['id']}/results", f"/simulations/{run['id']}/events"):
        assert (await api.client.get(path, headers=stranger)).status_code == 404, path
    assert (await api.client.post(f"/simulations/{run['id']}/cancel", headers=stranger)).status_code == 404
    assert (await api.client.get("/simulations", headers=stranger)).json()["total"] == 0


async def test_results_filter_by_bus_and_fault_and_pages_are_bounded(api, helpers):
    case = helpers.load_case("mv_meshed_20kv")
    run = (await api.submit(helpers.without_expected(case))).json()
    await api.wait(run["id"])
    bus_ids = [b["id"] for b in case["buses"]]

    response = await api.client.get(
        f"/simulations/{run['id']}/results",
        params={"bus": bus_ids[:2], "fault": "1ph"},
        headers=api.headers,
    )
    body = response.json()
    assert body["total"] == 2 * 2  # two buses × (1ph max, 1ph min)
    assert {(i["fault"], i["bus_id"]) for i in body["items"]} == {("1ph", bus_ids[0]), ("1ph", bus_ids[1])}
    assert [s["fault"] for s in body["result_sets"]] == ["1ph", "1ph"]

    # Too large a page is refused with the bound named (the one platform contract), never clamped.
    huge = await api.client.get(f"/simulations/{run['id']}/results", params={"page_size": 10**6}, headers=api.headers)
    assert huge.status_code == 422 and "100" in huge.text
    second = await api.client.get(
        f"/simulations/{run['id']}/results", params={"page": 2, "page_size": 10}, headers=api.headers
    )
    first = await api.client.get(
        f"/simulations/{run['id']}/results", params={"page": 1, "page_size": 10}, headers=api.headers
    )
    assert first.json()["items"][0]["bus_id"] == bus_ids[0]  # document order
    assert second.json()["items"][0]["bus_id"] == bus_ids[10]


async def test_results_download_as_csv_and_as_result_sets_json(api, helpers):
    case = helpers.load_case("ind480_radial")
    run = (await api.submit(helpers.without_expected(case))).json()
    await api.wait(run["id"])

    response = await api.client.get(
        f"/simulations/{run['id']}/results/download", params={"format": "csv"}, headers=api.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(case["buses"]) * len(case["expected"]["result_sets"])
    first = rows[0]
    expected_set = case["expected"]["result_sets"][0]
    want = expected_set["buses"][first["bus_id"]]["ikss_ka"]
    assert math.isclose(float(first["ikss_ka"]), want, rel_tol=REL_TOL)

    response = await api.client.get(
        f"/simulations/{run['id']}/results/download", params={"format": "json", "trail": "true"}, headers=api.headers
    )
    document = json.loads(response.text)
    assert document["run_id"] == run["id"]
    sets = {(s["fault"], s["case"]): s for s in document["result_sets"]}
    for rs in case["expected"]["result_sets"]:
        got = sets[(rs["fault"], rs["case"])]
        assert set(got["buses"]) == set(rs["buses"])
        assert set(got["trail"]) == set(rs["buses"])


async def test_comparing_two_runs_gives_per_bus_deltas(api, helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    a = (await api.submit(document, options={"faults": ["3ph"], "cases": ["max"]})).json()
    b = (await api.submit(document, options={"faults": ["3ph"], "cases": ["max"], "tk_s": 0.2})).json()
    await api.wait(a["id"])
    await api.wait(b["id"])

    response = await api.client.get(
        "/simulations/compare", params={"a": a["id"], "b": b["id"], "page_size": 100}, headers=api.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(document["buses"])
    item = body["items"][0]
    assert item["in_a"] and item["in_b"]
    assert item["quantities"]["ikss_ka"]["delta"] == 0  # the fault duration changes only Ith
    assert any(i["quantities"]["ith_ka"]["delta"] != 0 for i in body["items"])
    assert body["max_abs_relative"]["ith_ka"] > 0


async def test_cancel_a_queued_and_a_running_run(tmp_path, auth, helpers):
    settings = helpers.study_settings(tmp_path, test_solve_delay_s=3.0)
    async with helpers.running_api(settings, auth) as api:
        document = helpers.without_expected(helpers.load_case("ind480_radial"))
        running = (await api.submit(document)).json()
        queued = (await api.submit(document)).json()
        await api.wait(running["id"], {"running"})

        cancelled = await api.client.post(f"/simulations/{queued['id']}/cancel", headers=api.headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        cancelled = await api.client.post(f"/simulations/{running['id']}/cancel", headers=api.headers)
        assert cancelled.json()["status"] == "cancelled"

        # The running solve is stopped and the queued job is dropped: neither ever succeeds.
        await api.wait(queued["id"])
        for run in (running, queued):
            final = await api.wait(run["id"])
            assert final["status"] == "cancelled"
            results = await api.client.get(f"/simulations/{run['id']}/results", headers=api.headers)
            assert results.status_code == 409
        again = await api.client.post(f"/simulations/{running['id']}/cancel", headers=api.headers)
        assert again.status_code == 200  # cancelling twice is harmless

        # Each cancellation is told once, by the user who cancelled, through the outbox.
        table = event_tables.outbox
        async with api.app.state.db.session() as session:
            rows = (await session.execute(select(table.c.type, table.c.payload, table.c.envelope))).all()
        for run in (running, queued):
            told = [r for r in rows if r.type == "simulation.run.cancelled" and r.payload["run_id"] == run["id"]]
            assert len(told) == 1
            assert told[0].envelope["actor_id"] == told[0].payload["cancelled_by"] is not None
            # The producer is the service's short name, the first word of its routing keys.
            assert told[0].envelope["producer"] == "simulation"
            assert not [r for r in rows if r.type == "simulation.run.completed" and r.payload["run_id"] == run["id"]]


async def test_a_finished_run_cannot_be_cancelled(api, helpers):
    run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
    await api.wait(run["id"])
    response = await api.client.post(f"/simulations/{run['id']}/cancel", headers=api.headers)
    assert response.status_code == 409


async def test_a_solve_over_the_time_limit_is_stopped_and_the_run_fails(tmp_path, auth, helpers):
    settings = helpers.study_settings(tmp_path, test_solve_delay_s=30.0, job_time_limit_s=1.0)
    async with helpers.running_api(settings, auth) as api:
        run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
        final = await api.wait(run["id"], timeout=20)
        assert final["status"] == "failed"
        assert final["error"]["code"] == "time_limit_exceeded"


async def test_a_job_whose_solver_dies_every_time_fails_after_the_delivery_limit(tmp_path, auth, helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    settings = helpers.study_settings(tmp_path, test_crash_circuit_id=document["id"], job_delivery_limit=2)
    async with helpers.running_api(settings, auth) as api:
        run = (await api.submit(document)).json()
        final = await api.wait(run["id"], timeout=30)
        assert final["status"] == "failed"
        assert final["error"]["code"] == "dead_lettered"
        assert final["attempts"] == 2


async def test_live_status_arrives_as_server_sent_events_until_the_run_ends(api, helpers):
    run = (await api.submit(helpers.without_expected(helpers.load_case("mv_meshed_20kv")))).json()
    async with api.client.stream("GET", f"/simulations/{run['id']}/events", headers=api.headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join([chunk async for chunk in response.aiter_text()])
    events = [block for block in text.split("\n\n") if block.startswith("id:")]
    names = [line.split(": ", 1)[1] for block in events for line in block.splitlines() if line.startswith("event:")]
    assert names[-1] == "succeeded"
    assert set(names) <= {"queued", "running", "succeeded"}
    last = json.loads(events[-1].split("data: ", 1)[1])
    assert last["id"] == run["id"] and last["progress"] == 1.0


async def test_runs_are_listed_by_project(api, helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    project = await api.new_project()
    ids = {(await api.submit(document, project_id=project)).json()["id"] for _ in range(2)}
    await api.submit(document)
    listed = (await api.client.get("/simulations", params={"project_id": str(project)}, headers=api.headers)).json()
    assert {r["id"] for r in listed["items"]} == ids
    for run_id in ids:
        await api.wait(run_id)


async def test_metrics_show_solve_time_queue_wait_buses_and_runs_by_state(api, helpers):
    run = (await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))).json()
    await api.wait(run["id"])
    import asyncio

    await asyncio.sleep(0.5)  # one gauge refresh
    text = (await api.client.get("/metrics")).text
    assert "ampflux_simulation_solve_duration_seconds_count 1.0" in text
    assert "ampflux_simulation_queue_wait_seconds_count 1.0" in text
    assert "ampflux_simulation_buses_solved_total" in text
    assert 'ampflux_simulation_runs{state="succeeded"} 1.0' in text
    assert "ampflux_simulation_workers 1.0" in text
    assert "ampflux_simulation_queue_depth 0.0" in text


@pytest.mark.parametrize("page", [0, -1])
async def test_page_numbers_start_at_one(api, page):
    response = await api.client.get("/simulations", params={"page": page}, headers=api.headers)
    assert response.status_code == 422


async def test_health_readiness_and_openapi(api):
    assert (await api.client.get("/health")).json() == {"status": "ok"}
    ready = (await api.client.get("/ready")).json()
    assert ready["checks"] == {"database": "ok", "broker": "ok"}
    schema = (await api.client.get("/openapi.json")).json()
    for path in (
        "/simulations",
        "/simulations/{run_id}",
        "/simulations/{run_id}/results",
        "/simulations/{run_id}/results/download",
        "/simulations/compare",
        "/simulations/{run_id}/cancel",
        "/simulations/{run_id}/events",
    ):
        assert path in schema["paths"], path


async def test_the_circuit_document_schema_is_published(api):
    r = await api.client.get("/simulations/circuit-document.schema.json", headers=api.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/schema+json"
    assert r.json() == circuit_document_schema()
    assert (await api.client.get("/simulations/circuit-document.schema.json")).status_code == 401
    components = (await api.client.get("/openapi.json")).json()["components"]["schemas"]
    assert components["CircuitDocument"] == circuit_document_components()["CircuitDocument"]


async def test_documents_are_prepared_off_the_event_loop(api, helpers, monkeypatch):
    """Validating and preparing a document is CPU work (0.6 s for 20k buses): in a worker
    thread, never on the loop that serves every other request of the process."""
    from ampflux_simulation.domain import inputs

    threads: list[threading.Thread] = []
    real = inputs.validate_circuit

    def spy(document, **options):
        threads.append(threading.current_thread())
        return real(document, **options)

    monkeypatch.setattr(inputs, "validate_circuit", spy)
    response = await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))
    assert response.status_code == 202, response.text
    assert threads and all(t is not threading.current_thread() for t in threads)
