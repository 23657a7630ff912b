"""Reference circuits from tests/data/circuits (the repo's own test data)."""

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ampflux_testing.circuits import CASES_DIR

REPO_ROOT = Path(__file__).resolve().parents[3]
CASE_NAMES = ["edge_parallel_transformers", "ind480_radial", "mv_meshed_20kv"]


@pytest.fixture(scope="session")
def cases_dir() -> Path:
    if not CASES_DIR.is_dir():
        pytest.fail(f"reference circuits not found at {CASES_DIR}")
    return CASES_DIR


@pytest.fixture(scope="session")
def _case_cache(cases_dir: Path) -> dict[str, dict[str, Any]]:
    return {name: json.loads((cases_dir / f"{name}.json").read_text(encoding="utf-8")) for name in CASE_NAMES}


@pytest.fixture
def reference_case(_case_cache: dict[str, dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """A fresh copy of a reference document, safe for a test to mutate."""
    return lambda name: copy.deepcopy(_case_cache[name])


@pytest.fixture(params=CASE_NAMES)
def case_name(request: pytest.FixtureRequest) -> str:
    """Runs a test once per reference circuit."""
    return request.param
