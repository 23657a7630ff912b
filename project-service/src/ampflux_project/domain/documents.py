"""Turning uploaded bytes (.json or .json.gz) into a circuit document's JSON object.

Decompression is bounded: a small gzip file must not unpack into gigabytes.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from typing import Any

from ampflux_shared.errors import ProblemError, field_error, validation_failed

_GZIP_MAGIC = b"\x1f\x8b"


def decode_document(raw: bytes, *, max_bytes: int) -> dict[str, Any]:
    # Trust the content over the file name, like the shared file loader does.
    if raw.startswith(_GZIP_MAGIC):
        raw = _gunzip(raw, max_bytes)
    if len(raw) > max_bytes:
        raise too_large(max_bytes)
    try:
        data = json.loads(raw.decode("utf-8-sig"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise _unreadable("the file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _unreadable(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise _unreadable(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _unreadable(f"a circuit document must be a JSON object, found {type(data).__name__}")
    return data


def _gunzip(raw: bytes, max_bytes: int) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            out = stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise _unreadable(f"not a readable gzip file: {exc}") from None
    if len(out) > max_bytes:
        raise too_large(max_bytes)
    return out


def too_large(max_bytes: int) -> ProblemError:
    return ProblemError(413, f"the circuit document is larger than {max_bytes} bytes", slug="document-too-large")


def _unreadable(message: str) -> ProblemError:
    return validation_failed([field_error("", message, "unreadable_document")], detail=message)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
