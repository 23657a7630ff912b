"""A short subset of the fault suite in `make test`: a poison delivery-count header, one
worker kill mid-job and one database blip, each with the full suite's exact accounting (0
lost, 0 duplicated, 0 stuck, 0 healthy runs failed), on a stack with its own PostgreSQL and
RabbitMQ (tests/faults/stack.py). `make faults` runs every scenario at full size."""

from __future__ import annotations

import pytest
from faults import scenarios

pytestmark = [pytest.mark.slow]


def test_poison_delivery_count_headers_are_settled_and_solving_goes_on(fault_stack, client, record):
    record(scenarios.poison_messages(fault_stack, client, healthy=3, kinds="header"))


def test_one_worker_killed_mid_job_loses_and_doubles_nothing(fault_stack, client, record):
    record(scenarios.worker_sigkill(fault_stack, client, runs=4, kills=1))


def test_a_database_blip_fails_no_healthy_run(fault_stack, client, record):
    record(scenarios.database_restart(fault_stack, client, runs=4, down_s=1.0))
