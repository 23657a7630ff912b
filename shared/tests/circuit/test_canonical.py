"""One canonical JSON and hash for circuit documents: equal documents hash equal."""

from __future__ import annotations

import math

import pytest

from ampflux_shared.circuit import canonical_json, document_sha256, json_safe


def test_key_order_and_integral_floats_do_not_change_the_hash():
    a = {"buses": [{"id": "MV", "vn_kv": 20.0}], "study": {"frequency_hz": 50}}
    b = {"study": {"frequency_hz": 50.0}, "buses": [{"vn_kv": 20, "id": "MV"}]}
    assert canonical_json(a) == canonical_json(b) == b'{"buses":[{"id":"MV","vn_kv":20}],"study":{"frequency_hz":50}}'
    assert document_sha256(a) == document_sha256(b)


def test_different_values_hash_differently():
    assert document_sha256({"vn_kv": 20.0}) != document_sha256({"vn_kv": 20.5})
    assert document_sha256({"flag": True}) != document_sha256({"flag": 1})  # a boolean is not a number


def test_nan_is_not_json():
    with pytest.raises(ValueError):
        canonical_json({"x": math.nan})


def test_json_safe_spells_non_finite_numbers_and_keeps_the_rest():
    value = {1: (math.inf, -math.inf, math.nan), "ok": [1.5, "s", None]}
    assert json_safe(value) == {"1": ["inf", "-inf", "nan"], "ok": [1.5, "s", None]}
