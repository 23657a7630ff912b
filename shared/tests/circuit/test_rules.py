"""The rules digest: a service that validates a document now and acts on it later stores it,
and checks the document again only when the digest it runs differs (`parse_validated_circuit`)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from ampflux_shared.circuit import CircuitValidationError, parse_validated_circuit, rules
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


# Well formed (the models build it) but meaningless: the line ends at a bus that is not there.
_DANGLING = {
    "format": "circuit-document",
    "version": 1,
    "id": "dangling",
    "study": {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"]},
    "buses": [{"id": "A", "vn_kv": 20.0}],
    "ext_grids": [{"id": "G", "bus": "A", "s_sc_max_mva": 500.0, "rx_max": 0.1}],
    "lines": [
        {"id": "L", "from_bus": "A", "to_bus": "NOWHERE", "length_km": 1.0, "r_ohm_per_km": 0.1, "x_ohm_per_km": 0.1}
    ],
}


def test_a_document_validated_under_the_running_rules_is_only_built_and_any_other_is_checked_again():
    # Under the rules running now, the meaning checks are not repeated (that is the point).
    assert parse_validated_circuit(_DANGLING, rules_digest()).lines[0].to_bus == "NOWHERE"
    # Other rules, or none recorded: the whole check runs and reports the problem.
    for recorded in ("a digest of other rules", None):
        with pytest.raises(CircuitValidationError) as refused:
            parse_validated_circuit(_DANGLING, recorded)
        assert any("to_bus" in problem.path for problem in refused.value.problems)
    # What the models cannot build is checked in full even under the running rules.
    broken = {**_DANGLING, "buses": [{"id": "A", "vn_kv": -20.0}]}
    with pytest.raises(CircuitValidationError):
        parse_validated_circuit(broken, rules_digest())
