"""Who may start and stop studies: editors of the project (company admins of its company),
by either route; cancelling someone else's run needs the same; a company admin cannot
attach runs to another company's project."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def document(helpers):
    return helpers.without_expected(helpers.load_case("ind480_radial"))


async def _saved_circuit(api, project_id: uuid.UUID, document: dict) -> str:
    r = await api.project.post(
        f"/projects/{project_id}/circuits/", json={"name": "board", "document": document}, headers=api.headers
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_a_viewer_cannot_submit_by_document_or_by_saved_circuit(api, document):
    project_id = await api.new_project()
    circuit_id = await _saved_circuit(api, project_id, document)
    viewer_id = uuid.uuid4()
    await api.add_member(project_id, viewer_id, "viewer")
    viewer = api.colleague(user_id=viewer_id)

    by_document = await api.submit(document, project_id=project_id, headers=viewer)
    assert by_document.status_code == 403, by_document.text
    by_circuit = await api.client.post(
        "/simulations",
        json={"project_id": str(project_id), "circuit": {"circuit_id": circuit_id}},
        headers=viewer,
    )
    assert by_circuit.status_code == 403, by_circuit.text
    # The circuit's simulate action answers the same for them.
    r = await api.client.post(f"/circuits/{project_id}/simulate", json={"circuit_id": circuit_id}, headers=viewer)
    assert r.status_code == 403, r.text

    editor_id = uuid.uuid4()
    await api.add_member(project_id, editor_id, "editor")
    editor = api.colleague(user_id=editor_id)
    assert (await api.submit(document, project_id=project_id, headers=editor)).status_code == 202


async def test_cancel_needs_the_submitter_or_an_editor_and_says_who_cancelled(tmp_path, auth, helpers, document):
    # Solves take long enough here that every run is still open when it is cancelled. The one
    # embedded worker solves the first run while the second waits, so each cancel meets a
    # known state: the first run running, the second queued. (Cancelling a run the worker is
    # claiming at that moment races the claim, which on SQLite can mark the cancelled run
    # running again; its 30 s solve then held the shutdown for the bus's 10 s grace.)
    settings = helpers.study_settings(tmp_path, test_solve_delay_s=30.0)
    async with helpers.running_api(settings, auth) as api:
        project_id = await api.new_project()
        viewer_id, editor_id = uuid.uuid4(), uuid.uuid4()
        await api.add_member(project_id, viewer_id, "viewer")
        await api.add_member(project_id, editor_id, "editor")

        first = (await api.submit(document, project_id=project_id)).json()
        await api.wait(first["id"], {"running"})
        second = (await api.submit(document, project_id=project_id)).json()
        r = await api.client.post(f"/simulations/{first['id']}/cancel", headers=api.colleague(user_id=viewer_id))
        assert r.status_code == 403, r.text
        status = (await api.client.get(f"/simulations/{first['id']}", headers=api.headers)).json()["status"]
        assert status == "running"  # the viewer's attempt changed nothing

        # The submitter may cancel their own run (queued behind the first).
        assert (await api.client.get(f"/simulations/{second['id']}", headers=api.headers)).json()["status"] == "queued"
        r = await api.client.post(f"/simulations/{second['id']}/cancel", headers=api.headers)
        assert r.status_code == 200 and r.json()["error"]["detail"] == f"cancelled by user {api.user_id}"

        r = await api.client.post(f"/simulations/{first['id']}/cancel", headers=api.colleague(user_id=editor_id))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
        assert r.json()["error"]["detail"] == f"cancelled by user {editor_id}"


async def test_an_admin_cannot_attach_runs_to_another_companys_project(api, document):
    project_id = await api.new_project()
    outsider = api.auth.headers(uuid.uuid4(), roles=("admin",))
    r = await api.client.post(
        "/simulations", json={"project_id": str(project_id), "document": document}, headers=outsider
    )
    assert r.status_code == 404, r.text
    # An admin of the project's own company may (admins act as owners there).
    own_admin = api.colleague(roles=("admin",))
    assert (await api.submit(document, project_id=project_id, headers=own_admin)).status_code == 202
