"""Alembic environment of the simulation service (version table `alembic_version_simulation`)."""

from ampflux_shared.migrations import run_env
from ampflux_simulation.models import metadata

run_env(metadata)
