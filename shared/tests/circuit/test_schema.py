"""The circuit document's JSON Schema, generated from the shared model, accepts every
reference circuit and refuses a document of the wrong shape."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest

from ampflux_shared.circuit.schema import DIALECT, circuit_document_components, circuit_document_schema
from ampflux_testing.circuits import CASES_DIR

CASES = sorted(CASES_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def validator():
    schema = circuit_document_schema()
    assert schema["$schema"] == DIALECT
    return jsonschema_rs.validator_for(schema)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_every_reference_circuit_fits_the_schema(validator, path):
    document = json.loads(path.read_text())
    document.pop("expected", None)
    assert validator.is_valid(document)


def test_a_document_of_the_wrong_shape_does_not_fit(validator):
    document = json.loads(CASES[0].read_text())
    document["buses"][0]["vn_kv"] = "twenty"
    assert not validator.is_valid(document)
    assert not validator.is_valid({"format": "circuit-document"})


def test_openapi_components_refer_to_each_other():
    components = circuit_document_components()
    text = json.dumps(components)
    assert "#/$defs/" not in text
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in components, ref


def test_equipment_ratings_are_in_the_schema(validator):
    # a three-winding transformer's through-fault limits per winding (FORMAT.md "Equipment ratings")
    document = json.loads((CASES_DIR / "mv_meshed_20kv.json").read_text())
    document.pop("expected", None)
    document["buses"].append({"id": "T3-LV", "vn_kv": 10.0})
    bus = document["buses"][0]["id"]
    t3 = {
        "id": "T3",
        "hv_bus": bus,
        "mv_bus": document["buses"][1]["id"],
        "lv_bus": "T3-LV",
        "vn_hv_kv": 20.0,
        "vn_mv_kv": 20.0,
        "vn_lv_kv": 10.0,
        "sn_hv_mva": 10.0,
        "sn_mv_mva": 10.0,
        "sn_lv_mva": 5.0,
        "vk_hv_percent": 10.0,
        "vk_mv_percent": 8.0,
        "vk_lv_percent": 12.0,
        "vkr_hv_percent": 0.5,
        "vkr_mv_percent": 0.5,
        "vkr_lv_percent": 0.5,
        "ratings": {"hv": {"through_fault_multiple": 25.0}, "lv": {"through_fault_ka": 8.0, "through_fault_s": 1.0}},
    }
    document["transformers3w"] = [t3]
    assert validator.is_valid(document)
    t3["ratings"] = {"lv": {"through_fault_ka": "eight"}}
    assert not validator.is_valid(document)
