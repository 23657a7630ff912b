"""The e2e stack's shape: what a service brings to it (`tests/e2e/stack_*.py`).

Processes are started with the shared harness (`ampflux_testing.processes`); its names are
re-exported here for the stack modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ampflux_testing.processes import REPO, ServiceProcess, free_port, start_together

__all__ = ["REPO", "ServiceProcess", "StackContext", "StackMember", "free_port", "start_together"]

# Login attempts per client address per minute in the e2e gateway route table.
LOGIN_QUOTA = 500
# A tight budget on the public JWKS route, which only the gateway limits.
JWKS_QUOTA = 10


@dataclass
class StackContext:
    """What a service needs to join the e2e stack (see `tests/e2e/stack_*.py`)."""

    logs: Path
    amqp_url: str
    jwks_url: str
    auth_url: str
    # service name -> base URL, for every service of the stack (ports are chosen up front)
    urls: dict[str, str]
    make_database: Callable[[str], str]
    # queues the stack deletes from the broker when it stops
    queues: list[str] = field(default_factory=list)


@dataclass
class StackMember:
    """One service's processes and gateway routes; `stack_<name>.py` modules return one."""

    processes: list[ServiceProcess]
    routes: list[dict[str, Any]]
