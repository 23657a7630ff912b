"""ampflux-solve's result encoding: msgspec on the fast path, the json module where the
payload holds a null, NaN or an infinity; both give the same JSON values."""

from __future__ import annotations

import json
import math

from ampflux_shared.circuit import parse_circuit
from ampflux_simulation.cli import dumps_results, encode_results
from ampflux_simulation.solver import solve_study
from ampflux_testing.circuits import CASES_DIR


def test_fast_path_gives_the_json_modules_values_for_a_real_study() -> None:
    data = json.loads((CASES_DIR / "mv_meshed_20kv.json").read_text(encoding="utf-8"))
    data.pop("expected", None)
    doc = parse_circuit(data)
    payload = {"circuit_id": doc.id, "result_sets": solve_study(doc).to_result_sets()}
    raw = encode_results(payload)
    assert raw.endswith(b"\n") and b"\n" not in raw[:-1] and b"null" not in raw  # the fast path
    assert len(raw) < len(json.dumps(payload, ensure_ascii=False).encode())  # compact separators
    assert json.loads(raw) == json.loads(json.dumps(payload, allow_nan=False))
    pretty = encode_results(payload, pretty=True)
    assert pretty.count(b"\n") > 100 and json.loads(pretty) == json.loads(raw)


def test_null_nan_and_infinity_take_the_json_module_path() -> None:
    payload = {"a": None, "b": [1.5, math.inf, -math.inf, math.nan], "c": "I″k"}
    got = json.loads(dumps_results(payload))
    assert got == {"a": None, "b": [1.5, "inf", "-inf", "nan"], "c": "I″k"}
    # a null that is a real None stays null (no spelling needed)
    assert json.loads(dumps_results({"x": None, "y": 2.0})) == {"x": None, "y": 2.0}
