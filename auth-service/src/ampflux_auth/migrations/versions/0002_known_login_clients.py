"""Known login clients: addresses an account logged in from, exempt from account-wide throttling.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_login_clients",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("email", "client_address", name=op.f("pk_known_login_clients")),
    )
    op.create_index(
        op.f("ix_known_login_clients_last_login_at"), "known_login_clients", ["last_login_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_known_login_clients_last_login_at"), table_name="known_login_clients")
    op.drop_table("known_login_clients")
