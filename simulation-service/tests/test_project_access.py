"""Runs are as visible as their project: only whoever may see the project in the project
service (its members, and company admins) may submit, read, list or cancel its runs.

Company scoping alone is not enough: a colleague of the same company who is not a member of
the project gets 404, exactly as for a run that does not exist.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from ampflux_shared.errors import ProblemError
from ampflux_simulation.project_client import ProjectClient


def _run_paths(run_id: str) -> list[str]:
    return [
        f"/simulations/{run_id}",
        f"/simulations/{run_id}/results",
        f"/simulations/{run_id}/results/download",
        f"/simulations/{run_id}/events",
        f"/simulations/compare?a={run_id}&b={run_id}",
    ]


@pytest.fixture
def document(helpers):
    return helpers.without_expected(helpers.load_case("ind480_radial"))


async def test_a_colleague_who_is_not_a_member_cannot_submit_read_list_or_cancel(api, document):
    project_id = await api.new_project()
    run = (await api.submit(document, project_id=project_id)).json()
    await api.wait(run["id"])
    colleague = api.colleague()

    inline = {"project_id": str(project_id), "document": document}
    response = await api.client.post("/simulations", json=inline, headers=colleague)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    # Replaying the owner's idempotent submit does not hand the run out either.
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await api.client.post("/simulations", json=inline, headers={**api.headers, **key})
    assert first.status_code == 202
    await api.wait(first.json()["id"])
    assert (await api.client.post("/simulations", json=inline, headers={**colleague, **key})).status_code == 404

    for path in _run_paths(run["id"]):
        assert (await api.client.get(path, headers=colleague)).status_code == 404, path
    assert (await api.client.post(f"/simulations/{run['id']}/cancel", headers=colleague)).status_code == 404
    listed = await api.client.get("/simulations", params={"project_id": str(project_id)}, headers=colleague)
    assert listed.status_code == 404
    # Without a project the colleague sees only the runs they requested: none.
    assert (await api.client.get("/simulations", headers=colleague)).json()["total"] == 0

    # Nothing was stored for the refused submit.
    listed = await api.client.get("/simulations", params={"project_id": str(project_id)}, headers=api.headers)
    assert {r["id"] for r in listed.json()["items"]} == {run["id"], first.json()["id"]}


async def test_a_queued_run_cannot_be_cancelled_by_a_non_member(tmp_path, auth, helpers, document):
    settings = helpers.study_settings(tmp_path, test_solve_delay_s=30.0)
    async with helpers.running_api(settings, auth) as api:
        run = (await api.submit(document)).json()
        response = await api.client.post(f"/simulations/{run['id']}/cancel", headers=api.colleague())
        assert response.status_code == 404
        assert (await api.client.get(f"/simulations/{run['id']}", headers=api.headers)).json()["status"] != "cancelled"
        cancelled = await api.client.post(f"/simulations/{run['id']}/cancel", headers=api.headers)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_a_company_admin_reads_every_run_of_the_company(api, document):
    project_id = await api.new_project()
    run = (await api.submit(document, project_id=project_id)).json()
    await api.wait(run["id"])
    admin = api.colleague(roles=("admin",))
    for path in _run_paths(run["id"]):
        assert (await api.client.get(path, headers=admin)).status_code == 200, path
    listed = await api.client.get("/simulations", params={"project_id": str(project_id)}, headers=admin)
    assert [r["id"] for r in listed.json()["items"]] == [run["id"]]
    assert [r["id"] for r in (await api.client.get("/simulations", headers=admin)).json()["items"]] == [run["id"]]
    # An admin of another company is still a stranger.
    other_admin = api.auth.headers(uuid.uuid4(), roles=("admin",))
    assert (await api.client.get(f"/simulations/{run['id']}", headers=other_admin)).status_code == 404


async def test_a_member_reads_the_projects_runs_and_may_submit_inline(api, document):
    project_id = await api.new_project()
    run = (await api.submit(document, project_id=project_id)).json()
    await api.wait(run["id"])
    member_id = uuid.uuid4()
    await api.add_member(project_id, member_id, role="editor")
    member = api.colleague(user_id=member_id)
    for path in _run_paths(run["id"]):
        assert (await api.client.get(path, headers=member)).status_code == 200, path
    listed = await api.client.get("/simulations", params={"project_id": str(project_id)}, headers=member)
    assert [r["id"] for r in listed.json()["items"]] == [run["id"]]

    mine = await api.client.post(
        "/simulations", json={"project_id": str(project_id), "document": document}, headers=member
    )
    assert mine.status_code == 202, mine.text
    await api.wait(mine.json()["id"])
    # Without a project: only the runs the member requested.
    own = (await api.client.get("/simulations", headers=member)).json()
    assert [r["id"] for r in own["items"]] == [mine.json()["id"]]
    listed = await api.client.get("/simulations", params={"project_id": str(project_id)}, headers=member)
    assert listed.json()["total"] == 2


async def test_a_refusal_is_not_cached_and_one_callers_yes_is_not_anothers(api, document):
    project_id = await api.new_project()
    run = (await api.submit(document, project_id=project_id)).json()
    await api.wait(run["id"])
    path = f"/simulations/{run['id']}"

    # The owner's yes is cached for the owner's token only.
    assert (await api.client.get(path, headers=api.headers)).status_code == 200
    colleague_id = uuid.uuid4()
    colleague = api.colleague(user_id=colleague_id)
    assert (await api.client.get(path, headers=colleague)).status_code == 404
    # The refusal is not remembered: once a member, the same token is let in at once.
    await api.add_member(project_id, colleague_id)
    assert (await api.client.get(path, headers=colleague)).status_code == 200


class CountingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.calls = inner, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return await self.inner.handle_async_request(request)


async def test_the_project_client_caches_yes_for_a_while_and_never_no(api):
    project_id = await api.new_project()
    token = api.auth.token(api.company_id, user_id=api.user_id)
    transport = CountingTransport(httpx.ASGITransport(app=api.project.app))

    client = ProjectClient("http://project", timeout_s=5, transport=transport, access_cache_ttl_s=30)
    try:
        for _ in range(3):
            await client.check_project(token, project_id)
        assert transport.calls == 1

        stranger = api.auth.token(api.company_id)
        for _ in range(2):
            with pytest.raises(ProblemError) as refused:
                await client.check_project(stranger, project_id)
            assert refused.value.status == 404
        assert transport.calls == 3
    finally:
        await client.close()

    uncached = ProjectClient("http://project", timeout_s=5, transport=transport, access_cache_ttl_s=0)
    try:
        await uncached.check_project(token, project_id)
        await uncached.check_project(token, project_id)
        assert transport.calls == 5
    finally:
        await uncached.close()
