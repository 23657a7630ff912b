"""The one rule for a test whose server or tool is missing: outside CI it is skipped with the
reason; in CI (`CI=true`, as `.ci/run` sets) it fails, since CI must run every test."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def cannot_run(why: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{why} (CI must run it, not skip it)")
    pytest.skip(why)
