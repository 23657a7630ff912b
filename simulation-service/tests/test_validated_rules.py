"""A run's input records the validation rules its document passed at submit, so the solving
child checks it again only when the rules changed in between (see test_solving for the child;
the digest itself: shared/tests/circuit/test_rules.py)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from ampflux_shared.circuit.rules import rules_digest
from ampflux_simulation.models import StudyInput


async def test_a_submitted_document_is_stored_with_the_rules_it_passed(api, helpers):
    response = await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))
    assert response.status_code == 202, response.text
    run = await api.wait(response.json()["id"])
    assert run["status"] == "succeeded"
    async with api.app.state.db.session() as session:
        query = select(StudyInput.validated_rules).where(StudyInput.run_id == uuid.UUID(run["id"]))
        stored = await session.scalar(query)
    assert stored == rules_digest()
    assert len(stored) == 64
