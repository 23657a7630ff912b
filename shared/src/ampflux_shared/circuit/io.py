"""Reading circuit documents: from disk, or from uploaded bytes (`.json` or gzip `.json.gz`)."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from pathlib import Path
from typing import Any

import msgspec

from .limits import MAX_DOCUMENT_DEPTH, document_depth

_GZIP_MAGIC = b"\x1f\x8b"


class CircuitFileError(ValueError):
    """The bytes cannot be read as a circuit document's JSON; the message names the cause
    (and the file, when there is one)."""


class CircuitTooLargeError(CircuitFileError):
    """The document, once decompressed, is larger than the caller allows."""

    def __init__(self, message: str, max_bytes: int) -> None:
        super().__init__(message)
        self.max_bytes = max_bytes


def load_circuit_file(path: str | Path, *, max_bytes: int | None = None) -> dict[str, Any]:
    """The JSON object in `path`, not yet validated (see `validate_circuit`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CircuitFileError(f"{path}: cannot read: {error.strerror or error}") from error
    return load_circuit_bytes(raw, max_bytes=max_bytes, name=str(path))


def load_circuit_bytes(raw: bytes, *, max_bytes: int | None = None, name: str | None = None) -> dict[str, Any]:
    """The JSON object in `raw` (plain or gzip), not yet validated.

    `max_bytes` bounds the decompressed size, so a small gzip upload cannot unpack into
    gigabytes. `name` (a file name) prefixes the messages.
    """
    where = f"{name}: " if name else ""
    # Trust the content over the name: a renamed .gz file still loads.
    if raw.startswith(_GZIP_MAGIC):
        raw = _gunzip(raw, max_bytes, where)
    elif name and name.endswith(".gz"):
        raise CircuitFileError(f"{where}named .gz but not gzip-compressed")
    if max_bytes is not None and len(raw) > max_bytes:
        raise _too_large(max_bytes, where)

    try:
        text = raw.decode("utf-8-sig")  # tolerate a byte-order mark that some editors write
    except UnicodeDecodeError as error:
        raise CircuitFileError(f"{where}not UTF-8 text ({error.reason} at byte {error.start})") from error

    data = _fast_decode(text)
    if data is None:
        data = _decode(text, where)
    if not isinstance(data, dict):
        raise CircuitFileError(f"{where}a circuit document must be a JSON object, found {type(data).__name__}")
    if document_depth(data) > MAX_DOCUMENT_DEPTH:
        raise CircuitFileError(f"{where}nested more than {MAX_DOCUMENT_DEPTH} levels deep")
    return data


def _fast_decode(text: str) -> Any:
    """The JSON value of `text` parsed by msgspec (about 3x faster than `json` on a large
    document), or None when msgspec refuses it: then `_decode` reads it again and says why.

    What msgspec accepts, `json` reads to the same value. msgspec refuses a little more
    (NaN and Infinity, numbers that overflow a float, lone surrogate escapes), all of which
    `_decode` reports or, for a 1e400 that `json` reads as inf, leaves to validation, as before.
    """
    try:
        return msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError):
        return None


def _decode(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise CircuitFileError(
            f"{where}invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from error
    except ValueError as error:
        raise CircuitFileError(f"{where}invalid JSON: {error}") from error
    except RecursionError:  # the parser's own stack ran out: thousands of levels deep
        raise CircuitFileError(f"{where}nested more than {MAX_DOCUMENT_DEPTH} levels deep") from None


def _gunzip(raw: bytes, max_bytes: int | None, where: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            out = stream.read(-1 if max_bytes is None else max_bytes + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise CircuitFileError(f"{where}not a readable gzip file: {error}") from error
    if max_bytes is not None and len(out) > max_bytes:
        raise _too_large(max_bytes, where)
    return out


def _too_large(max_bytes: int, where: str) -> CircuitTooLargeError:
    return CircuitTooLargeError(f"{where}the circuit document is larger than {max_bytes} bytes", max_bytes)


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and neither do our numbers.
    raise ValueError(f"{name} is not a JSON number")
