"""The embedded default (SQLite file, in-process bus) runs the same service."""

from __future__ import annotations

from ampflux_project.config import Settings


async def test_project_and_versions_on_sqlite(tmp_path, client_factory, api_for, company):
    settings = Settings(database_url="", amqp_url="", data_dir=tmp_path)
    async for client in client_factory(settings):
        api = api_for(client)
        owner = company.user()
        project = await api.create_project(owner, "Embedded")
        circuit = await api.create_circuit(project, owner, api.tiny_circuit())
        assert (await api.save(project, circuit, owner, api.tiny_circuit())).status_code == 200
        assert (await api.save(project, circuit, owner, api.tiny_circuit(title="t"))).status_code == 201
        r = await client.get(f"/projects/{project['id']}/circuits/{circuit['id']}/versions/2", headers=owner.headers)
        assert r.json()["created_at"].endswith(("Z", "+00:00"))
        assert (await client.get("/ready")).json()["checks"] == {"database": "ok", "broker": "ok"}
        assert (await client.delete(f"/projects/{project['id']}", headers=owner.headers)).status_code == 204
    assert (tmp_path / "project.db").exists()
