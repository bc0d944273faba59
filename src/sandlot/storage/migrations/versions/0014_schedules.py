"""Schedules, and the slots they fired (one row per slot: the exactly-once key).

Revision ID: 0014_schedules
Revises: 0013_runner
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sandlot.storage.tables import UtcDateTime

revision = "0014_schedules"
down_revision = "0013_runner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = UtcDateTime(timezone=True)
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("namespace_id", sa.String(36), nullable=False),
        sa.Column("function_id", sa.String(36), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", utc, nullable=True),
        sa.Column("last_run_at", utc, nullable=True),
        sa.Column("last_invocation_id", sa.String(26), nullable=True),
        sa.Column("skipped_slots", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("skipped_from", utc, nullable=True),
        sa.Column("skipped_until", utc, nullable=True),
        sa.Column("skipped_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespaces.id"], name="fk_schedules_namespace_id_namespaces"
        ),
        sa.ForeignKeyConstraint(
            ["function_id"], ["functions.id"], name="fk_schedules_function_id_functions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_schedules"),
    )
    op.create_index("ix_schedules_due", "schedules", ["paused", "next_run_at"])
    op.create_index("ix_schedules_function_id", "schedules", ["function_id"])
    op.create_table(
        "schedule_firings",
        sa.Column("schedule_id", sa.String(36), nullable=False),
        sa.Column("slot_at", utc, nullable=False),
        sa.Column("invocation_id", sa.String(26), nullable=False),
        sa.Column("fired_at", utc, nullable=False),
        sa.Column("fired_by", sa.String(64), nullable=False),
        # The key that makes a slot fire once, whichever server or restart gets there first.
        sa.PrimaryKeyConstraint("schedule_id", "slot_at", name="pk_schedule_firings"),
    )


def downgrade() -> None:
    op.drop_table("schedule_firings")
    op.drop_index("ix_schedules_function_id", table_name="schedules")
    op.drop_index("ix_schedules_due", table_name="schedules")
    op.drop_table("schedules")
