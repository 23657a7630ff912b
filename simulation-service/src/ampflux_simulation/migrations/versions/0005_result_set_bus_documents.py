"""study results: a result set's buses as one compressed document, not one row per bus

A 3,000-bus study with two faults stored 6,000 rows in `study_bus_results`, and PostgreSQL
ingesting them was the largest cost of a worker's run after the solve. Each result set now
holds its buses (ids, document positions, values, trails) as one zstd-compressed JSON
document, `study_result_sets.buses_z`, with `bus_count`; the API pages, filters, downloads
and compares decoded sets (`ampflux_simulation.domain.packed`). Existing rows move into that
form and the old table goes; the downgrade rebuilds it from the documents.

The document's form is written out here rather than imported, so that this migration keeps
doing what it did whatever the code does later. On PostgreSQL `buses_z` is stored EXTERNAL:
already compressed, so the database does not try again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
import zstandard
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COMPRESS_LEVEL = 1
INSERT_BATCH = 2000

result_sets = sa.table(
    "study_result_sets",
    sa.column("run_id", sa.Uuid()),
    sa.column("fault", sa.String()),
    sa.column("case", sa.String()),
    sa.column("bus_count", sa.Integer()),
    sa.column("buses_z", sa.LargeBinary()),
)
bus_results = sa.table(
    "study_bus_results",
    sa.column("run_id", sa.Uuid()),
    sa.column("fault", sa.String()),
    sa.column("case", sa.String()),
    sa.column("bus_index", sa.Integer()),
    sa.column("bus_id", sa.String()),
    sa.column("values", sa.JSON()),
    sa.column("trail", sa.JSON()),
)


def _of_set(table: Any, run_id: Any, fault: str, case: str) -> Any:
    return sa.and_(table.c.run_id == run_id, table.c.fault == fault, table.c.case == case)


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("study_result_sets") as batch:
        batch.add_column(sa.Column("bus_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("buses_z", sa.LargeBinary(), nullable=True))
    keys = bind.execute(sa.select(result_sets.c.run_id, result_sets.c.fault, result_sets.c.case)).all()
    for run_id, fault, case in keys:
        rows = bind.execute(
            sa.select(bus_results.c.bus_index, bus_results.c.bus_id, bus_results.c["values"], bus_results.c.trail)
            .where(_of_set(bus_results, run_id, fault, case))
            .order_by(bus_results.c.bus_index)
        ).all()
        trails = [trail for _, _, _, trail in rows]
        document = {
            "ids": [bus_id for _, bus_id, _, _ in rows],
            "index": [index for index, _, _, _ in rows],
            "values": [values for _, _, values, _ in rows],
            # The old rows cannot tell "no trail" from "no trail for any bus": both read as null.
            "trail": trails if any(t is not None for t in trails) else None,
        }
        blob = zstandard.ZstdCompressor(level=COMPRESS_LEVEL).compress(
            json.dumps(document, separators=(",", ":")).encode()
        )
        bind.execute(
            result_sets.update()
            .where(_of_set(result_sets, run_id, fault, case))
            .values(bus_count=len(rows), buses_z=blob)
        )
    with op.batch_alter_table("study_result_sets") as batch:
        batch.alter_column("bus_count", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("buses_z", existing_type=sa.LargeBinary(), nullable=False)
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE study_result_sets ALTER COLUMN buses_z SET STORAGE EXTERNAL")
    with op.batch_alter_table("study_bus_results") as batch:
        batch.drop_index("ix_study_bus_results_run_bus")
    op.drop_table("study_bus_results")


def downgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "study_bus_results",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("fault", sa.String(length=8), nullable=False),
        sa.Column("case", sa.String(length=8), nullable=False),
        sa.Column("bus_index", sa.Integer(), nullable=False),
        sa.Column("bus_id", sa.String(length=200), nullable=False),
        # json on PostgreSQL too, as migration 0004 left them
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("trail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["study_runs.id"], name=op.f("fk_study_bus_results_run_id_study_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "fault", "case", "bus_index", name=op.f("pk_study_bus_results")),
    )
    with op.batch_alter_table("study_bus_results") as batch:
        batch.create_index("ix_study_bus_results_run_bus", ["run_id", "bus_id"], unique=False)
    keys = bind.execute(sa.select(result_sets.c.run_id, result_sets.c.fault, result_sets.c.case)).all()
    for run_id, fault, case in keys:
        blob: bytes = bind.execute(
            sa.select(result_sets.c.buses_z).where(_of_set(result_sets, run_id, fault, case))
        ).scalar_one()
        document = json.loads(zstandard.ZstdDecompressor().decompress(blob))
        trails = document["trail"] or [None] * len(document["ids"])
        rows = [
            {
                "run_id": run_id,
                "fault": fault,
                "case": case,
                "bus_index": index,
                "bus_id": bus_id,
                "values": values,
                "trail": trail,
            }
            for bus_id, index, values, trail in zip(
                document["ids"], document["index"], document["values"], trails, strict=True
            )
        ]
        for start in range(0, len(rows), INSERT_BATCH):
            bind.execute(bus_results.insert(), rows[start : start + INSERT_BATCH])
    with op.batch_alter_table("study_result_sets") as batch:
        batch.drop_column("buses_z")
        batch.drop_column("bus_count")
