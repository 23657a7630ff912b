"""The short subset of the fault suite that `make test` runs (the full suite: `make faults`)."""

from pathlib import Path

import pytest
from faults.fixtures import client, fault_ledgers, fault_stack, record  # noqa: F401  (fixtures)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`) these tests share one worker, so one stack of
    its own (a PostgreSQL, a RabbitMQ node, six processes) starts, not one per worker."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("faults"))
