"""Saved test events, per function.

Revision ID: 0008_test_events
Revises: 0007_audit
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sandlot.storage.tables

revision = "0008_test_events"
down_revision = "0007_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = sandlot.storage.tables.UtcDateTime(timezone=True)
    op.create_table(
        "test_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("function_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["function_id"], ["functions.id"], name=op.f("fk_test_events_function_id_functions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_events")),
        sa.UniqueConstraint("function_id", "name", name="uq_test_events_function_name"),
    )


def downgrade() -> None:
    op.drop_table("test_events")
