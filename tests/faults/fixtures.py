"""Fixtures of the fault suite and its quick subset: one stack per session, a fresh client
per test, and the table of every scenario's accounting printed at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from faults.ledger import TABLE_HEADER, Ledger
from faults.load import Client
from faults.stack import FaultStack, start_stack, stop_stack

from ampflux_testing import instances
from ampflux_testing.ci import cannot_run
from ampflux_testing.group_resources import GroupResource


@pytest.fixture(scope="session")
def fault_ledgers() -> Iterator[list[Ledger]]:
    ledgers: list[Ledger] = []
    yield ledgers
    if ledgers:
        print("\n\nFault scenarios\n" + TABLE_HEADER + "\n" + "\n".join(ledger.row() for ledger in ledgers), flush=True)


FAULT_STACK: GroupResource[FaultStack] = GroupResource("fault_stack")


@pytest.fixture
def fault_stack() -> FaultStack:
    """The suite's own PostgreSQL, RabbitMQ and services: started by its first test, stopped
    after its last (its tests run one after another on one worker)."""
    missing = instances.available()
    if missing:
        cannot_run(f"the fault suite needs its own PostgreSQL and RabbitMQ: {missing}")
    return FAULT_STACK.get(_run_stack)


def _run_stack() -> Iterator[FaultStack]:
    stack = start_stack()
    try:
        yield stack
    finally:
        stop_stack(stack)


@pytest.fixture
def client(fault_stack: FaultStack) -> Iterator[Client]:
    c = Client(fault_stack)
    yield c
    c.close()


@pytest.fixture
def record(fault_ledgers: list[Ledger], fault_stack: FaultStack):
    """Keep a scenario's ledgers for the table, then assert each is clean."""

    def check(ledgers: list[Ledger]) -> None:
        fault_ledgers.extend(ledgers)
        for ledger in ledgers:
            try:
                ledger.assert_clean()
            except AssertionError:
                print(fault_stack.log_tails())
                raise

    return check
