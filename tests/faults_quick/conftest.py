"""The short subset of the fault suite that `make test` runs (the full suite: `make faults`)."""

from faults.fixtures import client, fault_ledgers, fault_stack, record  # noqa: F401  (fixtures)
