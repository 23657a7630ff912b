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


def three_winding_document(
    ratings: dict[str, Any] | None = None, study: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A 110/20/10 kV, 40/40/20 MVA three-winding transformer T3 fed from a 3 GVA 110 kV grid,
    nothing on its MV and LV sides; `ratings` (through-fault limits per winding) when given."""
    transformer: dict[str, Any] = {
        "id": "T3",
        "hv_bus": "HV",
        "mv_bus": "MV",
        "lv_bus": "LV",
        "vn_hv_kv": 110.0,
        "vn_mv_kv": 20.0,
        "vn_lv_kv": 10.0,
        "sn_hv_mva": 40.0,
        "sn_mv_mva": 40.0,
        "sn_lv_mva": 20.0,
        "vk_hv_percent": 12.0,
        "vk_mv_percent": 8.0,
        "vk_lv_percent": 20.0,
        "vkr_hv_percent": 0.4,
        "vkr_mv_percent": 0.3,
        "vkr_lv_percent": 0.5,
    }
    if ratings is not None:
        transformer["ratings"] = ratings
    return {
        "format": "circuit-document",
        "version": 1,
        "id": "three-winding",
        "study": {"frequency_hz": 50, **(study or {})},
        "buses": [{"id": "HV", "vn_kv": 110.0}, {"id": "MV", "vn_kv": 20.0}, {"id": "LV", "vn_kv": 10.0}],
        "ext_grids": [{"id": "Q", "bus": "HV", "s_sc_max_mva": 3000.0, "rx_max": 0.1}],
        "transformers3w": [transformer],
    }
