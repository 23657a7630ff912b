"""The rules digest: a service that validates a document now and acts on it later stores it,
and checks the document again only when the digest it runs differs."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from ampflux_shared.circuit import rules
from ampflux_shared.circuit.rules import rules_digest


def test_the_rules_digest_changes_with_any_source_of_the_circuit_checks(tmp_path: Path, monkeypatch):
    package = Path(str(resources.files("ampflux_shared.circuit")))
    copy = tmp_path / "circuit"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(rules.resources, "files", lambda _name: copy)
    digest = rules.rules_digest.__wrapped__
    assert digest() == rules_digest()  # the same sources: the same rules
    assert len(rules_digest()) == 64
    ratings = copy / "ratings.py"
    ratings.write_text(ratings.read_text() + "\n# a deploy that changes a check\n")
    assert digest() != rules_digest()
    for source in copy.glob("*.py"):
        source.unlink()
    assert digest() == ""  # no sources to tell the rules by: every later use checks again
