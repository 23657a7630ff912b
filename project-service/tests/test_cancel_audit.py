"""A cancelled study shows in its project's audit trail with who cancelled it
(`simulation.run.cancelled`, consumed once like every event)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest

from ampflux_project.config import Settings
from ampflux_shared.events import SimulationRunCancelled, make_event
from ampflux_testing.polling import eventually

pytestmark = pytest.mark.postgres


@pytest.fixture
def settings(settings) -> Settings:
    # This test's own queue on the process-wide in-process broker.
    settings.events_queue = f"project-cancel-audit-{uuid.uuid4().hex[:8]}"
    return settings


async def test_the_audit_says_who_cancelled_a_study(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    canceller, run_id, version_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    payload = SimulationRunCancelled(
        run_id=run_id,
        company_id=company.id,
        project_id=uuid.UUID(project["id"]),
        circuit_version_id=version_id,
        cancelled_at=datetime.now(UTC),
        cancelled_by=canceller,
    )
    envelope = make_event(
        "simulation.run.cancelled", payload, producer="simulation", company_id=company.id, actor_id=canceller
    )
    assert await client.app.state.bus.publish(envelope)
    assert await client.app.state.bus.publish(envelope)  # a redelivery has no second effect

    async def cancellations() -> list[dict]:
        r = await client.get(f"/projects/{project['id']}/audit/", headers=owner.headers)
        assert r.status_code == 200, r.text
        return [e for e in r.json()["items"] if e["action"] == "simulation.cancelled"]

    async def consumed() -> float:
        text = (await client.get("/metrics")).text
        match = re.search(
            r'^ampflux_events_consumed_total\{event_type="simulation.run.cancelled",outcome="ok"\} (\S+)$',
            text,
            re.MULTILINE,
        )
        return float(match.group(1)) if match else 0.0

    # Both deliveries finished with (handled, then skipped by the inbox).
    async def both_consumed() -> bool:
        return await consumed() >= 2

    await eventually(both_consumed, timeout=15, what="the cancellation to be consumed twice")
    entries = await cancellations()
    assert len(entries) == 1
    assert entries[0]["actor_id"] == str(canceller)
    assert entries[0]["details"]["run_id"] == str(run_id)
