"""study runs: the worker's last heartbeat, so a run whose worker died is seen as stale

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 13:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("study_runs") as batch:
        batch.add_column(sa.Column("worker_heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("study_runs") as batch:
        batch.drop_column("worker_heartbeat_at")
