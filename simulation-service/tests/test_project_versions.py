"""Studies of saved circuit versions, read from a real (in-process) project service as the caller.

The project service is another service's code: it is used here only as a test peer (no
fake), started by conftest.py's `running_api` next to every in-process API.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx


@dataclass
class SavedCircuit:
    project_id: str
    circuit_id: str
    version_id: str


async def save_circuit(project: httpx.AsyncClient, headers: dict, document: dict) -> SavedCircuit:
    created = await project.post("/projects/", json={"name": f"substation {uuid.uuid4().hex[:6]}"}, headers=headers)
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    circuit = await project.post(
        f"/projects/{project_id}/circuits/", json={"name": "main", "document": document}, headers=headers
    )
    assert circuit.status_code == 201, circuit.text
    body = circuit.json()
    return SavedCircuit(project_id, body["id"], body["version"]["id"])


@asynccontextmanager
async def both_services(tmp_path, auth, helpers, **overrides):
    # Every in-process API comes with the project service (see conftest.py).
    async with helpers.running_api(helpers.study_settings(tmp_path, **overrides), auth) as api:
        yield api, api.project


async def test_a_member_simulates_a_saved_version_read_from_the_project_service(tmp_path, auth, helpers):
    case = helpers.load_case("ind480_radial")
    async with both_services(tmp_path, auth, helpers) as (api, project):
        saved = await save_circuit(project, api.headers, helpers.without_expected(case))
        body = {"project_id": saved.project_id, "circuit": {"circuit_id": saved.circuit_id, "version": 1}}
        response = await api.client.post("/simulations", json=body, headers=api.headers)
        assert response.status_code == 202, response.text
        run = response.json()
        assert run["circuit_version_id"] == saved.version_id and run["circuit_version_number"] == 1

        final = await api.wait(run["id"])
        assert final["status"] == "succeeded"
        items = await api.all_results(run["id"])
        assert len(items) == len(case["buses"]) * len(case["expected"]["result_sets"])

        listed = await api.client.get(
            "/simulations",
            params={"project_id": saved.project_id, "circuit_version": saved.version_id},
            headers=api.headers,
        )
        assert [r["id"] for r in listed.json()["items"]] == [run["id"]]

        # Without a number the latest version is used.
        latest = {"project_id": saved.project_id, "circuit": {"circuit_id": saved.circuit_id}}
        response = await api.client.post("/simulations", json=latest, headers=api.headers)
        assert response.json()["circuit_version_number"] == 1
        await api.wait(response.json()["id"])


async def test_the_project_services_access_rules_apply_to_the_caller(tmp_path, auth, helpers):
    async with both_services(tmp_path, auth, helpers) as (api, project):
        saved = await save_circuit(project, api.headers, helpers.without_expected(helpers.load_case("ind480_radial")))
        body = {"project_id": saved.project_id, "circuit": {"circuit_id": saved.circuit_id}}
        colleague_not_member = auth.headers(api.company_id)
        stranger = auth.headers(uuid.uuid4())
        for headers in (colleague_not_member, stranger):
            response = await api.client.post("/simulations", json=body, headers=headers)
            assert response.status_code == 404, response.text
        missing = {"project_id": saved.project_id, "circuit": {"circuit_id": saved.circuit_id, "version": 9}}
        assert (await api.client.post("/simulations", json=missing, headers=api.headers)).status_code == 404


async def test_options_are_checked_against_the_fetched_version(tmp_path, auth, helpers):
    async with both_services(tmp_path, auth, helpers) as (api, project):
        saved = await save_circuit(project, api.headers, helpers.without_expected(helpers.load_case("ind480_radial")))
        body = {
            "project_id": saved.project_id,
            "circuit": {"circuit_id": saved.circuit_id},
            "options": {"buses": ["NOT-A-BUS"], "branches_for": "ALSO-NOT"},
        }
        response = await api.client.post("/simulations", json=body, headers=api.headers)
        assert response.status_code == 422
        assert {e["path"] for e in response.json()["errors"]} == {"options.buses[0]", "options.branches_for"}


async def test_an_unreachable_project_service_answers_503(tmp_path, auth, helpers):
    settings = helpers.study_settings(tmp_path)  # project_url points nowhere
    async with helpers.running_api(settings, auth, with_project_service=False) as api:
        body = {"project_id": str(uuid.uuid4()), "circuit": {"circuit_id": str(uuid.uuid4())}}
        response = await api.client.post("/simulations", json=body, headers=api.headers)
        assert response.status_code == 503
        assert response.json()["type"].endswith("project-service-unavailable")
        inline = {
            "project_id": str(uuid.uuid4()),
            "document": helpers.without_expected(helpers.load_case("ind480_radial")),
        }
        response = await api.client.post("/simulations", json=inline, headers=api.headers)
        assert response.status_code == 503
        assert response.json()["type"].endswith("project-service-unavailable")


async def test_simulate_on_a_circuit_pins_its_newest_version_in_one_hop(tmp_path, auth, helpers):
    async with both_services(tmp_path, auth, helpers) as (api, project):
        saved = await save_circuit(project, api.headers, helpers.without_expected(helpers.load_case("ind480_radial")))
        url = f"/circuits/{saved.project_id}/simulate"
        body = {"circuit_id": saved.circuit_id, "options": {"faults": ["3ph"], "cases": ["max"]}}
        headers = {**api.headers, "Idempotency-Key": "simulate-once"}
        response = await api.client.post(url, json=body, headers=headers)
        assert response.status_code == 202, response.text
        run = response.json()
        # This service answers the caller itself: its headers are not lost on a second hop.
        assert response.headers["Location"] == f"/simulations/{run['id']}"
        assert run["circuit_version_id"] == saved.version_id
        replay = await api.client.post(url, json=body, headers=headers)
        assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true"
        assert replay.json()["id"] == run["id"]
        final = await api.wait(run["id"])
        assert final["status"] == "succeeded"
        assert {(i["fault"], i["case"]) for i in await api.all_results(run["id"])} == {("3ph", "max")}
        bad = await api.client.post(
            url, json={"circuit_id": saved.circuit_id, "options": {"faults": ["4ph"]}}, headers=api.headers
        )
        assert bad.status_code == 422 and "faults" in bad.text
