"""Reading circuit documents from disk (`.json`, or gzip-compressed `.json.gz`)."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

_GZIP_MAGIC = b"\x1f\x8b"


class CircuitFileError(ValueError):
    """The file cannot be read as a circuit document's JSON; the message names the file and the cause."""


def load_circuit_file(path: str | Path) -> dict[str, Any]:
    """The JSON object in `path`, not yet validated (see `validate_circuit`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CircuitFileError(f"{path}: cannot read: {error.strerror or error}") from error

    # Trust the content over the name: a renamed .gz file still loads.
    if raw.startswith(_GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise CircuitFileError(f"{path}: not a readable gzip file: {error}") from error
    elif path.name.endswith(".gz"):
        raise CircuitFileError(f"{path}: named .gz but not gzip-compressed")

    try:
        text = raw.decode("utf-8-sig")  # tolerate a byte-order mark that some editors write
    except UnicodeDecodeError as error:
        raise CircuitFileError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from error

    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise CircuitFileError(
            f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from error
    except ValueError as error:
        raise CircuitFileError(f"{path}: invalid JSON: {error}") from error

    if not isinstance(data, dict):
        raise CircuitFileError(f"{path}: a circuit document must be a JSON object, found {type(data).__name__}")
    return data


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and neither do our numbers.
    raise ValueError(f"{name} is not a JSON number")
