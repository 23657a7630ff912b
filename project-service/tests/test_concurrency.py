"""Races the row locks must settle: parallel saves, and two owners stepping down at once."""

from __future__ import annotations

import asyncio


async def test_parallel_saves_get_consecutive_numbers(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    documents = [api.tiny_circuit(title=f"edit {i}") for i in range(6)]
    results = await asyncio.gather(*(api.save(project, circuit, owner, d) for d in documents))
    assert sorted(r.status_code for r in results) == [201] * 6
    assert sorted(r.json()["number"] for r in results) == [2, 3, 4, 5, 6, 7]


async def test_two_owners_cannot_both_step_down(api, client, company):
    first, second = company.user(), company.user()
    project = await api.create_project(first)
    await api.add_member(project, first, second, "owner")
    url = f"/projects/{project['id']}/members"
    results = await asyncio.gather(
        client.patch(f"{url}/{first.id}", json={"role": "editor"}, headers=first.headers),
        client.patch(f"{url}/{second.id}", json={"role": "editor"}, headers=second.headers),
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    members = (await client.get(f"{url}/", headers=company.user("admin").headers)).json()["items"]
    assert [m["role"] for m in members].count("owner") == 1
