"""Alembic environment of the project service (run through ampflux_shared.migrations)."""

from ampflux_shared.migrations import run_env
from ampflux_project.models import metadata

run_env(metadata)
