"""More machines: the registry of workers that API servers route calls to.

Revision ID: 0020_workers
Revises: 0019_lambda
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sandlot.storage.tables

revision = "0020_workers"
down_revision = "0019_lambda"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = sandlot.storage.tables.UtcDateTime(timezone=True)
    op.create_table(
        "workers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("url", sa.String(300), nullable=False),
        sa.Column("hostname", sa.String(255), nullable=False, server_default=""),
        sa.Column("package_version", sa.String(32), nullable=False, server_default=""),
        sa.Column("started_at", utc, nullable=False),
        sa.Column("heartbeat_at", utc, nullable=False),
        sa.Column("draining", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("drain_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("free_mb", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("max_memory_mb", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("instances", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("busy", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("max_instances", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cpus", sa.Float(), nullable=False, server_default="0"),
        sa.Column("warm", sa.JSON(), nullable=False),
        sa.Column("ready", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_index(op.f("ix_workers_heartbeat_at"), "workers", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_workers_heartbeat_at"), table_name="workers")
    op.drop_table("workers")
