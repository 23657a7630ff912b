"""`python -m ampflux_simulation.worker`: kept as the entry the deployments use (the code is
in `jobs/worker.py`)."""

from __future__ import annotations

import sys

from .jobs.worker import main, run_worker

__all__ = ["main", "run_worker"]

if __name__ == "__main__":
    sys.exit(main())
