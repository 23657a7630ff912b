"""Alembic environment of the traveler service (run through ampflux_shared.migrations)."""

from ampflux_shared.migrations import run_env
from ampflux_traveler.models import metadata

run_env(metadata)
