"""`make faults`: see tests/faults/stack.py (the stack) and scenarios.py (what breaks)."""

from faults.fixtures import client, fault_ledgers, fault_stack, record  # noqa: F401  (fixtures)
