"""`python -m ampflux_simulation.worker`: kept as the entry the deployments use (the code is
in `jobs/worker.py`).

It imports nothing at module level: the solving processes' forkserver imports the main module
of the process that starts it, and for a worker that is this one (the worker's own imports,
the broker client and the database among them, would be a second of CPU per forkserver)."""

from __future__ import annotations

import sys


def main() -> int:
    from .jobs.worker import main as run

    return run()


if __name__ == "__main__":
    sys.exit(main())
