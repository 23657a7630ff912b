"""Equipment ratings on the circuit document: what they mean for a duty, checked by hand."""

from __future__ import annotations

import copy
import json
import math

import pytest

from ampflux_shared.circuit import (
    BreakerRatings,
    CableRatings,
    Transformer3WRatings,
    TransformerRatings,
    parse_circuit,
    validate_circuit,
)
from ampflux_shared.circuit.duty_ratings import rescaled_withstand_ka
from ampflux_testing.circuits import CASES_DIR, three_winding_document


# k of IEC 60364-4-43 Table 43A / IEC 60364-5-54 Table A.54.4, from IEC 60949's formula
@pytest.mark.parametrize(
    ("material", "insulation", "section", "table_k"),
    [
        ("cu", "pvc", 95, 115),
        ("al", "pvc", 95, 76),
        ("cu", "pvc", 400, 103),  # above 300 mm² PVC ends at 140 °C
        ("al", "pvc", 400, 68),
        ("cu", "xlpe", 240, 143),
        ("al", "xlpe", 240, 94),
        ("cu", "epr", 70, 143),
        ("cu", "rubber", 70, 141),
        ("al", "rubber", 70, 93),
        ("cu", "paper", 95, 128),  # the documented choice 80 → 200 °C (FORMAT.md)
        ("al", "paper", 95, 85),
    ],
)
def test_cable_k_matches_the_iec_table(material: str, insulation: str, section: float, table_k: float) -> None:
    cable = CableRatings(material=material, cross_section_mm2=section, insulation=insulation)  # type: ignore[arg-type]
    assert cable.k() == pytest.approx(table_k, abs=0.6)


def test_cable_withstand_is_k_s_over_root_tk() -> None:
    cable = CableRatings(material="cu", cross_section_mm2=95, insulation="xlpe")
    # IEC 60949 eq. 1: k = 226·√ln((250 + 234.5)/(90 + 234.5)) = 143.08; I = k·S/√Tk
    k = 226.0 * math.sqrt(math.log(484.5 / 324.5))
    assert cable.withstand_ka(0.5) == pytest.approx(k * 95 / math.sqrt(0.5) / 1000, rel=1e-12)
    own = CableRatings(material="cu", cross_section_mm2=95, insulation="xlpe", initial_temp_c=65, final_temp_c=200)
    assert own.k() == pytest.approx(226.0 * math.sqrt(math.log(434.5 / 299.5)), rel=1e-12)


def test_withstand_is_rescaled_by_i2t_only_for_longer_faults() -> None:
    # IEC 60865-1 §7: Ith ≤ Ithr·√(Tkr/Tk) for Tk > Tkr, Ith ≤ Ithr otherwise
    assert rescaled_withstand_ka(25.0, 1.0, 3.0) == pytest.approx(25.0 / math.sqrt(3.0), rel=1e-12)
    assert rescaled_withstand_ka(25.0, 3.0, 1.0) == 25.0


def test_asymmetrical_breaking_capability_from_the_dc_time_constant() -> None:
    breaker = BreakerRatings(breaking_ka=31.5)
    # IEC 62271-100: p = e^(−t/45 ms); at 50 ms p = 0.3292, Isc·√(1 + 2p²) = 34.78 kA
    p = math.exp(-50.0 / 45.0)
    assert breaker.asymmetrical_breaking_ka(0.05) == pytest.approx(31.5 * math.sqrt(1 + 2 * p * p), rel=1e-12)
    assert BreakerRatings(breaking_ka=31.5, breaking_asym_ka=33.0).asymmetrical_breaking_ka(0.05) == 33.0
    assert BreakerRatings(making_ka=80.0).asymmetrical_breaking_ka(0.05) is None


def test_transformer_through_fault_limit_as_a_multiple_of_rated_current() -> None:
    ratings = TransformerRatings(through_fault_multiple=25.0)
    assert ratings.limit_ka(10.0, 6.3) == pytest.approx(25.0 * 10.0 / (math.sqrt(3) * 6.3), rel=1e-12)


def _reference() -> dict:
    return json.loads((CASES_DIR / "mv_meshed_20kv.json").read_text(encoding="utf-8"))


def test_a_version_1_document_reads_unchanged_and_ratings_are_optional() -> None:
    data = _reference()
    doc = parse_circuit(data)
    assert not doc.study.duty
    assert all(bus.ratings is None for bus in doc.buses)
    assert all(line.ratings is None for line in doc.lines)


def test_bad_ratings_are_named_problems() -> None:
    data = copy.deepcopy(_reference())
    data["buses"][0]["ratings"] = {"peak_withstand_ka": 0}
    data["lines"][0]["ratings"] = {"material": "gold", "cross_section_mm2": 95, "insulation": "xlpe"}
    data["lines"][1]["ratings"] = {
        "material": "cu",
        "cross_section_mm2": 95,
        "insulation": "xlpe",
        "initial_temp_c": 90,
        "final_temp_c": 80,
    }
    data["study"]["duty"] = "yes"
    paths = {problem.path for problem in validate_circuit(data)}
    assert {
        "study.duty",
        "buses[0].ratings.peak_withstand_ka",
        "lines[0].ratings.material",
        "lines[1].ratings",
    } <= paths


def test_a_transformer_limit_is_a_current_or_a_multiple_not_both() -> None:
    with pytest.raises(ValueError, match="exactly one of through_fault_ka or through_fault_multiple"):
        TransformerRatings(through_fault_ka=10.0, through_fault_multiple=25.0)


def _three_winding(ratings: dict | None) -> dict:
    """A 110/20/10 kV three-winding transformer on a 110 kV grid."""
    return three_winding_document(ratings)


def test_three_winding_limits_per_winding_on_its_own_side() -> None:
    doc = parse_circuit(_three_winding({"mv": {"through_fault_multiple": 20.0}, "lv": {"through_fault_ka": 25.0}}))
    ratings = doc.transformers3w[0].ratings
    assert isinstance(ratings, Transformer3WRatings)
    assert [name for name, _ in ratings.windings()] == ["mv", "lv"]
    assert ratings.hv is None
    assert ratings.mv is not None and ratings.mv.through_fault_s == 2.0
    # 20 × the MV winding's rated current 40 MVA/(√3·20 kV) = 23.09 kA
    assert ratings.mv.limit_ka(40.0, 20.0) == pytest.approx(20.0 * 40.0 / (math.sqrt(3) * 20.0), rel=1e-12)
    assert parse_circuit(_three_winding(None)).transformers3w[0].ratings is None  # version 1 unchanged


def test_bad_three_winding_ratings_are_named_problems() -> None:
    both = {"through_fault_ka": 10.0, "through_fault_multiple": 20.0}
    data = _three_winding({"hv": both, "lv": {"through_fault_s": 0}})
    paths = {problem.path for problem in validate_circuit(data)}
    assert "transformers3w[0].ratings.hv" in paths
    assert any(path.startswith("transformers3w[0].ratings.lv") for path in paths)
