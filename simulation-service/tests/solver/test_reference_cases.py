"""Every stored quantity of every reference case in tests/data/circuits, to 1e-4.

The cases live outside the repository (computed by pandapower 3.5.6 `calc_sc`); they are
read here at test time, one test per (file, fault, case, bus) so a failure names its spot.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ampflux_shared.circuit import parse_circuit
from ampflux_simulation.solver import StudyResult, solve_study
from ampflux_testing.circuits import CASES_DIR

REPO_ROOT = Path(__file__).resolve().parents[3]
REL_TOL = 1e-4


def _case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*.json"))


@cache
def _document(name: str) -> dict[str, Any]:
    return json.loads((CASES_DIR / name).read_text())


@cache
def _solved(name: str) -> StudyResult:
    return solve_study(parse_circuit(_document(name)))


def _params() -> list[Any]:
    out = []
    for path in _case_files():
        for rs in _document(path.name)["expected"]["result_sets"]:
            for bus in rs["buses"]:
                out.append(
                    pytest.param(
                        path.name, rs["fault"], rs["case"], bus, id=f"{path.stem}-{rs['fault']}-{rs['case']}-{bus}"
                    )
                )
    return out


def test_reference_cases_are_present() -> None:
    assert len(_case_files()) >= 3, f"reference cases not found in {CASES_DIR}"


@pytest.mark.parametrize(("name", "fault", "case", "bus"), _params())
def test_reproduces_reference(name: str, fault: str, case: str, bus: str) -> None:
    expected_set = next(
        rs for rs in _document(name)["expected"]["result_sets"] if rs["fault"] == fault and rs["case"] == case
    )
    mine = _solved(name).get(fault, case)
    for q in expected_set["quantities"]:
        assert q in mine.quantities, f"{q} not computed"
    got = mine.buses[bus]
    for q, want in expected_set["buses"][bus].items():
        if isinstance(want, str):
            assert got[q] == want, q
        else:
            assert got[q] == pytest.approx(want, rel=REL_TOL), f"{q}: got {got[q]!r}, reference {want!r}"


def test_omitted_quantities_are_named_in_the_reference() -> None:
    # the reference leaves ith out at 60 Hz and ip/ith out for 1ph; we still compute them
    ind = _solved("ind480_radial.json")
    assert "ith_ka" in ind.get("3ph", "max").quantities
    assert "ip_ka" in ind.get("1ph", "max").quantities
