"""Server-Sent Events bodies read back in tests."""

from __future__ import annotations

import json
from typing import Any


def parse_sse(text: str, *, named_only: bool = False) -> list[dict[str, Any]]:
    """The events of an SSE body, `[{id?, event?, data}]` with `data` parsed as JSON; comments
    and keep-alive pings are left out, and with `named_only` so are events without a name."""
    out = []
    for block in text.split("\n\n"):
        event: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            if key == "data":
                event["data"] = json.loads(value)
            elif key in ("id", "event"):
                event[key] = value
        if event and (not named_only or "event" in event):
            out.append(event)
    return out
