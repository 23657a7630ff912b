"""Alembic environment of the project service (run through ampflux_shared.migrations)."""

from ampflux_project.models import metadata
from ampflux_shared.migrations import run_env

run_env(metadata)
