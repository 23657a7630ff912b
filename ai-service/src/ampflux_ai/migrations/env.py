"""Alembic environment of the AI service (run through ampflux_shared.migrations)."""

from ampflux_ai.models import metadata
from ampflux_shared.migrations import run_env

run_env(metadata)
