"""study runs: NOTIFY simulation_run_changed on a status or progress change (PostgreSQL)

The live status stream (api/events_stream.py) listens instead of polling the database per
client; a trigger, so that every writer (workers, the API's cancel, an operator's UPDATE)
is heard without each remembering to notify. SQLite (the embedded mode) has no NOTIFY.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 13:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION simulation_run_changed() RETURNS trigger AS $$
        BEGIN
            IF NEW.status IS DISTINCT FROM OLD.status OR NEW.progress IS DISTINCT FROM OLD.progress THEN
                PERFORM pg_notify('simulation_run_changed', NEW.id::text);
            END IF;
            RETURN NEW;
        END
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER study_runs_changed AFTER UPDATE ON study_runs "
        "FOR EACH ROW EXECUTE FUNCTION simulation_run_changed()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS study_runs_changed ON study_runs")
    op.execute("DROP FUNCTION IF EXISTS simulation_run_changed()")
