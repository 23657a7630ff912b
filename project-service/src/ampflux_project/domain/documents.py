"""Turning uploaded bytes (.json or .json.gz) into a circuit document's JSON object.

The reading rules (gzip by content, bounded decompression, strict JSON) are the shared
loader's; this module only maps its errors to problem responses.
"""

from __future__ import annotations

from typing import Any

from ampflux_shared import errors
from ampflux_shared.circuit import CircuitFileError, CircuitTooLargeError, load_circuit_bytes
from ampflux_shared.errors import ProblemError, field_error, validation_failed


def decode_document(raw: bytes, *, max_bytes: int) -> dict[str, Any]:
    try:
        return load_circuit_bytes(raw, max_bytes=max_bytes)
    except CircuitTooLargeError:
        raise too_large(max_bytes) from None
    except CircuitFileError as exc:
        raise validation_failed([field_error("", str(exc), "unreadable_document")], detail=str(exc)) from None


def too_large(max_bytes: int) -> ProblemError:
    return errors.too_large(f"the circuit document is larger than {max_bytes} bytes", slug="document-too-large")
