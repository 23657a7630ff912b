"""Each circuit version shows its latest study, from `simulation.run.completed` / `.failed`.

Events go through the app's own bus (in-process, or RabbitMQ for one test) into the
`consume_once` handler, exactly as the simulation service's outbox would deliver them.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, func, select

from ampflux_project.config import Settings
from ampflux_project.main import MIGRATIONS_DIR
from ampflux_project.models import VersionStudy, event_tables, metadata
from ampflux_shared.events import EventEnvelope, SimulationRunCompleted, SimulationRunFailed, make_event
from ampflux_shared.events.rabbitmq import RabbitMQBus
from ampflux_shared.migrations import sync_url, upgrade_to_head
from ampflux_testing.polling import eventually

pytestmark = pytest.mark.postgres

CONSUMER = "project.version-studies"
T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
# The simulation service's namespace for inline what-if runs (synthetic version ids).
INLINE_NAMESPACE = uuid.UUID("7d0c5a52-3f9e-4c1b-9a57-2f1f0b7e6a11")


@pytest.fixture
def settings(settings) -> Settings:
    # A queue of this test's own on the process-wide in-process broker: nothing another
    # test left behind is consumed (and counted) here.
    settings.events_queue = f"project-studies-test-{uuid.uuid4().hex[:8]}"
    return settings


# --- helpers ----------------------------------------------------------------------------


def completed(
    version_id, company_id, *, at: datetime = T0, run_id=None, project_id=None, buses: int = 2, seconds: float = 0.25
) -> EventEnvelope:
    payload = SimulationRunCompleted(
        run_id=run_id or uuid.uuid4(),
        company_id=company_id,
        project_id=project_id or uuid.uuid4(),
        circuit_version_id=version_id,
        finished_at=at,
        solve_seconds=seconds,
        bus_count=buses,
    )
    return make_event("simulation.run.completed", payload, producer="simulation", company_id=company_id)


def failed(
    version_id,
    company_id,
    *,
    at: datetime = T0,
    code: str = "solver_diverged",
    detail: str = "no convergence after 50 iterations",
) -> EventEnvelope:
    payload = SimulationRunFailed(
        run_id=uuid.uuid4(),
        company_id=company_id,
        project_id=uuid.uuid4(),
        circuit_version_id=version_id,
        finished_at=at,
        error_code=code,
        detail=detail,
    )
    return make_event("simulation.run.failed", payload, producer="simulation", company_id=company_id)


async def consumed(client, event_type: str) -> float:
    """Events of this type the app's consumer has finished with (handled or skipped)."""
    text = (await client.get("/metrics")).text
    pattern = rf'^ampflux_events_consumed_total{{event_type="{re.escape(event_type)}",outcome="ok"}} (\S+)$'
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def deliver(client, envelope: EventEnvelope, publish=None) -> None:
    """Publish `envelope` (through the app's bus unless told) and wait until it was consumed."""
    before = await consumed(client, envelope.type)
    assert await (publish or client.app.state.bus.publish)(envelope)

    async def done() -> bool:
        return await consumed(client, envelope.type) >= before + 1

    await eventually(done)


async def study_rows(client) -> list[VersionStudy]:
    async with client.app.state.db.session() as session:
        return list((await session.scalars(select(VersionStudy))).all())


async def inbox_count(client, event_id: uuid.UUID) -> int:
    t = event_tables.inbox
    async with client.app.state.db.session() as session:
        return await session.scalar(
            select(func.count()).select_from(t).where(t.c.event_id == event_id, t.c.consumer == CONSUMER)
        )


async def two_versions(api, owner):
    """A project with one circuit at versions 1 and 2: (project, circuit, base path, [v1, v2])."""
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    r = await api.save(project, circuit, owner, api.tiny_circuit(title="second"))
    assert r.status_code == 201, r.text
    base = f"/projects/{project['id']}/circuits/{circuit['id']}"
    return project, circuit, base, [circuit["version"], r.json()]


async def get(client, path: str, user) -> dict:
    r = await client.get(path, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


# --- behaviour --------------------------------------------------------------------------


async def test_a_completed_run_shows_on_the_version_read_and_list(api, client, company):
    owner = company.user()
    project, circuit, base, (v1, v2) = await two_versions(api, owner)
    assert v2["latest_study"] is None  # a new version has no study yet
    assert (await get(client, f"{base}/versions/1", owner))["latest_study"] is None

    run_id = uuid.uuid4()
    await deliver(
        client, completed(v1["id"], company.id, run_id=run_id, project_id=project["id"], buses=7, seconds=1.5)
    )

    study = (await get(client, f"{base}/versions/1", owner))["latest_study"]
    assert study["run_id"] == str(run_id) and study["status"] == "succeeded"
    assert study["bus_count"] == 7 and study["solve_seconds"] == 1.5
    assert study["error_code"] is None and study["detail"] is None
    assert datetime.fromisoformat(study["finished_at"]) == T0
    listed = (await get(client, f"{base}/versions", owner))["items"]
    assert [(v["number"], v["latest_study"]) for v in listed] == [(2, None), (1, study)]
    # version 2 has no study of its own: it does not inherit version 1's
    assert (await get(client, f"{base}/versions/latest", owner))["latest_study"] is None
    assert (await get(client, base, owner))["version"]["latest_study"] is None

    await deliver(client, completed(v2["id"], company.id, at=T0 + timedelta(minutes=1)))
    assert (await get(client, base, owner))["version"]["latest_study"]["status"] == "succeeded"
    # saving the same document again answers the existing version, study included
    r = await api.save(project, circuit, owner, api.tiny_circuit(title="second"))
    assert r.status_code == 200 and r.json()["latest_study"]["status"] == "succeeded"
    # restoring makes a new version, which has not been studied
    r = await client.post(f"{base}/versions/1/restore", json={}, headers=owner.headers)
    assert r.status_code == 201 and r.json()["latest_study"] is None

    # studies go with their circuit
    assert (await client.delete(base, headers=owner.headers)).status_code == 204
    assert await study_rows(client) == []


async def test_a_failed_run_shows_as_failed_with_its_detail_until_a_later_run_succeeds(api, client, company):
    owner = company.user()
    _, _, base, (v1, _) = await two_versions(api, owner)

    await deliver(client, failed(v1["id"], company.id, detail="singular admittance matrix", code="singular_y"))
    study = (await get(client, f"{base}/versions/1", owner))["latest_study"]
    assert study["status"] == "failed" and study["error_code"] == "singular_y"
    assert study["detail"] == "singular admittance matrix"
    assert study["solve_seconds"] is None and study["bus_count"] is None

    await deliver(client, completed(v1["id"], company.id, at=T0 + timedelta(seconds=1)))
    study = (await get(client, f"{base}/versions/1", owner))["latest_study"]
    assert study["status"] == "succeeded" and study["error_code"] is None and study["detail"] is None


async def test_a_redelivered_event_has_one_effect(api, client, company):
    owner = company.user()
    _, _, _, (v1, _) = await two_versions(api, owner)
    envelope = completed(v1["id"], company.id)

    await deliver(client, envelope)
    [first] = await study_rows(client)
    await deliver(client, envelope)  # the broker hands the same envelope over again

    [again] = await study_rows(client)
    assert again.updated_at == first.updated_at and again.run_id == first.run_id
    assert await inbox_count(client, envelope.id) == 1  # recorded once, skipped the second time
    assert await consumed(client, "simulation.run.completed") == 2


async def test_an_older_run_delivered_late_does_not_overwrite_a_newer_one(api, client, company):
    owner = company.user()
    _, _, base, (v1, _) = await two_versions(api, owner)
    newer_run = uuid.uuid4()

    await deliver(client, completed(v1["id"], company.id, run_id=newer_run, at=T0 + timedelta(minutes=5)))
    [stored] = await study_rows(client)
    await deliver(client, failed(v1["id"], company.id, at=T0))
    await deliver(client, completed(v1["id"], company.id, at=T0 + timedelta(minutes=4, seconds=59)))

    [kept] = await study_rows(client)
    assert kept.run_id == newer_run and kept.updated_at == stored.updated_at
    study = (await get(client, f"{base}/versions/1", owner))["latest_study"]
    assert study["run_id"] == str(newer_run) and study["status"] == "succeeded"


async def test_events_for_unknown_or_foreign_versions_change_nothing(api, client, company, other_company):
    owner = company.user()
    _, _, base, (v1, _) = await two_versions(api, owner)

    # another company's run naming this company's version (ids must not cross companies)
    await deliver(client, completed(v1["id"], other_company.id))
    await deliver(client, failed(v1["id"], other_company.id))
    # an inline what-if run: a synthetic id no version has
    await deliver(client, completed(uuid.uuid5(INLINE_NAMESPACE, "ab" * 32), company.id))
    await deliver(client, completed(uuid.uuid4(), company.id))

    assert await study_rows(client) == []
    assert (await get(client, f"{base}/versions/1", owner))["latest_study"] is None
    # handled (not retried or dead-lettered): each was acknowledged once
    assert await consumed(client, "simulation.run.completed") == 3
    assert await consumed(client, "simulation.run.failed") == 1


async def test_the_version_list_loads_studies_in_the_same_query(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    base = f"/projects/{project['id']}/circuits/{circuit['id']}"
    for n in range(2, 6):
        assert (await api.save(project, circuit, owner, api.tiny_circuit(title=f"v{n}"))).status_code == 201
    for v in (await get(client, f"{base}/versions", owner))["items"]:
        await deliver(client, completed(v["id"], company.id))

    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = client.app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        listed = (await get(client, f"{base}/versions", owner))["items"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(listed) == 5 and all(v["latest_study"]["status"] == "succeeded" for v in listed)
    assert len([s for s in statements if "version_studies" in s]) == 1, statements


@pytest.mark.rabbitmq
async def test_a_completed_run_arrives_through_rabbitmq(settings, amqp_url, client_factory, api_for, company):
    settings.amqp_url = amqp_url
    try:
        async for client in client_factory(settings):
            api = api_for(client)
            owner = company.user()
            _, _, base, (v1, _) = await two_versions(api, owner)
            envelope = completed(v1["id"], company.id, buses=3)
            publisher = RabbitMQBus(amqp_url)  # as the simulation service's relay would
            await publisher.start()
            try:
                await deliver(client, envelope, publish=publisher.publish)
                await deliver(client, envelope, publish=publisher.publish)  # redelivered
            finally:
                await publisher.stop()
            study = (await get(client, f"{base}/versions/1", owner))["latest_study"]
            assert study["run_id"] == str(envelope.payload["run_id"]) and study["bus_count"] == 3
            assert await inbox_count(client, envelope.id) == 1 and len(await study_rows(client)) == 1
    finally:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            for name in (settings.events_queue, f"{settings.events_queue}.dlq"):
                await channel.queue_delete(name)


async def test_studies_work_on_the_embedded_sqlite_database(tmp_path, client_factory, api_for, company):
    settings = Settings(
        database_url="", amqp_url="", data_dir=tmp_path, events_queue=f"project-sqlite-{uuid.uuid4().hex[:8]}"
    )
    async for client in client_factory(settings):
        api = api_for(client)
        owner = company.user()
        _, _, base, (v1, _) = await two_versions(api, owner)
        newer = uuid.uuid4()
        await deliver(client, completed(v1["id"], company.id, run_id=newer, at=T0 + timedelta(hours=1)))
        await deliver(client, failed(v1["id"], company.id, at=T0))
        await deliver(client, completed(v1["id"], uuid.uuid4()))  # another company's
        study = (await get(client, f"{base}/versions/1", owner))["latest_study"]
        assert study["run_id"] == str(newer) and study["status"] == "succeeded"
        assert [row.company_id for row in await study_rows(client)] == [company.id]


# --- schema -----------------------------------------------------------------------------


def _schema_drift(url: str) -> list:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_migrations_build_the_models_schema_on_postgresql(postgres_url):
    upgrade_to_head(MIGRATIONS_DIR, postgres_url, "alembic_version_project")
    drift = [d for d in _schema_drift(postgres_url) if not _is_version_table(d)]
    assert drift == []


def test_migrations_build_the_models_schema_on_sqlite(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'project.db'}"
    upgrade_to_head(MIGRATIONS_DIR, url, "alembic_version_project")
    drift = [d for d in _schema_drift(url) if not _is_version_table(d)]
    assert drift == []


def _is_version_table(diff) -> bool:
    # Alembic's own bookkeeping table is not in the models.
    return diff[0] == "remove_table" and diff[1].name == "alembic_version_project"
