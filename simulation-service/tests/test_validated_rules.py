"""A run's input records the validation rules its document passed at submit, so the solving
child checks it again only when the rules changed in between (see test_solving for the child)."""

from __future__ import annotations

import shutil
import uuid
from importlib import resources
from pathlib import Path

from sqlalchemy import select

from ampflux_simulation.domain import inputs
from ampflux_simulation.domain.inputs import validation_rules
from ampflux_simulation.models import StudyInput


async def test_a_submitted_document_is_stored_with_the_rules_it_passed(api, helpers):
    response = await api.submit(helpers.without_expected(helpers.load_case("ind480_radial")))
    assert response.status_code == 202, response.text
    run = await api.wait(response.json()["id"])
    assert run["status"] == "succeeded"
    async with api.app.state.db.session() as session:
        query = select(StudyInput.validated_rules).where(StudyInput.run_id == uuid.UUID(run["id"]))
        stored = await session.scalar(query)
    assert stored == validation_rules()
    assert len(stored) == 64


def test_the_rules_digest_changes_with_any_source_of_the_circuit_checks(tmp_path: Path, monkeypatch):
    package = Path(str(resources.files("ampflux_shared.circuit")))
    copy = tmp_path / "circuit"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(inputs.resources, "files", lambda _name: copy)
    digest = inputs.validation_rules.__wrapped__
    assert digest() == validation_rules()  # the same sources: the same rules
    ratings = copy / "ratings.py"
    ratings.write_text(ratings.read_text() + "\n# a deploy that changes a check\n")
    assert digest() != validation_rules()
    for source in copy.glob("*.py"):
        source.unlink()
    assert digest() == ""  # no sources to tell the rules by: every solve checks again
