"""Applying a partial update to a row and recording what changed, for the audit trail."""

from __future__ import annotations

from typing import Any


def apply_changes(target: Any, **values: Any) -> dict[str, dict[str, Any]]:
    """Set each given (non-None) value that differs from the current one; return
    `{field: {"old": ..., "new": ...}}` for those that changed (empty: nothing did)."""
    changed: dict[str, dict[str, Any]] = {}
    for field, new in values.items():
        old = getattr(target, field)
        if new is not None and new != old:
            changed[field] = {"old": old, "new": new}
            setattr(target, field, new)
    return changed
