"""study inputs: the validation rules a stored document passed at submit

The solving child validated every document again (0.02 s of its ~0.08 s CPU on a 3,000-bus
study). It now builds the model without the meaning checks when the document was validated
under the same rules it runs (`ampflux_shared.circuit.rules.rules_digest`): a deploy that changes the
rules between submit and solve still checks the document again. Existing inputs have no
rules recorded, so they are checked as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("study_inputs") as batch:
        batch.add_column(sa.Column("validated_rules", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("study_inputs") as batch:
        batch.drop_column("validated_rules")
