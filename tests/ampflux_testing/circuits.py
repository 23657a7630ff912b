"""The reference circuits the repo keeps as test data (`tests/data/circuits`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CASES_DIR = Path(__file__).resolve().parents[1] / "data" / "circuits"
CASE_NAMES = sorted(p.stem for p in CASES_DIR.glob("*.json"))


def case_path(name: str) -> Path:
    """`name` with or without `.json`."""
    return CASES_DIR / (name if name.endswith(".json") else f"{name}.json")


def load_case(name: str) -> dict[str, Any]:
    """A fresh copy of a reference document (with its `expected` block)."""
    data: dict[str, Any] = json.loads(case_path(name).read_text(encoding="utf-8"))
    return data
