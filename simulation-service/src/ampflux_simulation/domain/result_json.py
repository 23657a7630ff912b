"""Solver results as JSON bytes: msgspec's speed, the json module's spelling.

msgspec encodes a large study in about a tenth of the json module's time. It writes NaN and
infinities as null, so a text with a null in it (rare: solver results hold neither None nor
non-finite numbers, except an unearthed part's "inf") is made again the old way: the json
module with allow_nan=False, and `json_safe`'s spelling ("nan", "inf") only when that finds
one. The CLI's output and the stored result sets both come from here.
"""

from __future__ import annotations

import json
from typing import Any

from ampflux_shared.circuit import json_safe


def encode_json(payload: Any, *, pretty: bool = False) -> bytes:
    import msgspec  # here, not at import: the CLI refusing a document never needs it

    try:
        raw = msgspec.json.encode(payload)
    except (TypeError, msgspec.EncodeError):
        raw = b"null"
    if b"null" in raw:
        options: dict[str, Any] = {"indent": 2} if pretty else {"separators": (",", ":")}
        try:
            text = json.dumps(payload, allow_nan=False, **options)
        except ValueError:
            text = json.dumps(json_safe(payload), allow_nan=False, **options)
        return text.encode("utf-8")
    return msgspec.json.format(raw, indent=2) if pretty else raw
