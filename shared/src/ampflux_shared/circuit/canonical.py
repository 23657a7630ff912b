"""One canonical JSON and one hash for circuit documents, and one `json_safe`.

The project service names a version by its content hash and the simulation service names a
run's input by it; both must agree that two documents meaning the same JSON are the same
document. JSON does not tell `20` from `20.0` (FORMAT.md numbers are numbers), so integral
floats are written as integers before hashing; key order and whitespace never matter.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["canonical_json", "document_sha256", "json_safe"]


def _normalise_numbers(value: Any) -> Any:
    # bool is an int subclass, not a float: True stays true.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalise_numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise_numbers(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces, UTF-8, integral floats as
    integers. NaN and infinities are not JSON and raise ValueError (validate first)."""
    return json.dumps(
        _normalise_numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def document_sha256(value: Any) -> str:
    """Hex sha256 of `canonical_json(value)`: equal documents hash equal in every service."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def json_safe(value: Any) -> Any:
    """`value` with NaN and infinities spelled as the strings "nan", "inf" and "-inf" (JSON and
    PostgreSQL jsonb have no such numbers; FORMAT.md spells a missing zero-sequence path "inf"),
    mapping keys as strings and tuples as lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
