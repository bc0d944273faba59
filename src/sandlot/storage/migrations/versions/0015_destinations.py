"""Destinations of asynchronous calls: each function's, and the deliveries to them.

Revision ID: 0015_destinations
Revises: 0014_schedules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sandlot.storage.tables import UtcDateTime

revision = "0015_destinations"
down_revision = "0014_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "function_destinations",
        sa.Column("function_id", sa.String(36), sa.ForeignKey("functions.id"), nullable=False),
        sa.Column("namespace_id", sa.String(36), nullable=False),
        sa.Column("on_success", sa.JSON(), nullable=True),
        sa.Column("on_failure", sa.JSON(), nullable=True),
        sa.Column("secret_key_id", sa.String(16), nullable=True),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("function_id", name="pk_function_destinations"),
    )
    op.create_index(
        "ix_function_destinations_namespace_id", "function_destinations", ["namespace_id"]
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("namespace_id", sa.String(36), nullable=False),
        sa.Column("function_id", sa.String(36), nullable=False),
        sa.Column("function_name", sa.String(64), nullable=False),
        sa.Column("invocation_id", sa.String(26), nullable=False),
        sa.Column("condition", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", UtcDateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("queued_invocation_id", sa.String(26), nullable=True),
        sa.Column("redelivery_of", sa.String(26), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_function", "webhook_deliveries", ["function_id", "id"])
    op.create_index("ix_webhook_deliveries_invocation_id", "webhook_deliveries", ["invocation_id"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("function_destinations")
