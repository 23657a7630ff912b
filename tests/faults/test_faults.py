"""The fault suite (`make faults`, not part of `make test`): every scenario at full size on
one stack of its own; each asserts 0 lost, 0 duplicated, 0 stuck and 0 healthy runs failed."""

from __future__ import annotations

import pytest
from faults import scenarios

pytestmark = pytest.mark.slow


def test_worker_sigkill_mid_job(fault_stack, client, record):
    record(scenarios.worker_sigkill(fault_stack, client, runs=20, kills=3))


def test_broker_kill_during_writes_and_solves(fault_stack, client, record):
    record(scenarios.broker_kill(fault_stack, client, runs=16, outage_s=6.0))


def test_broker_blips_do_not_spend_the_delivery_limit(fault_stack, client, record):
    record(scenarios.broker_blips(fault_stack, client, blips=5))


def test_database_restart_during_load(fault_stack, client, record):
    record(scenarios.database_restart(fault_stack, client, runs=16, down_s=5.0))


def test_poison_messages_of_every_kind(fault_stack, client, record):
    record(scenarios.poison_messages(fault_stack, client, healthy=8))


def test_concurrent_idempotency_keys(fault_stack, client, record):
    record(scenarios.concurrent_idempotency(fault_stack, client, keys=10, copies=6))


def test_sigterm_to_a_worker(fault_stack, client, record):
    record(scenarios.worker_sigterm(fault_stack, client, group=False))


def test_sigterm_to_a_workers_process_group(fault_stack, client, record):
    record(scenarios.worker_sigterm(fault_stack, client, group=True))
