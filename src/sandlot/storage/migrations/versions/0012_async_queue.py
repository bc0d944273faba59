"""The queue: an asynchronous call's row carries its attempts, lease and whole event.

Revision ID: 0012_async_queue
Revises: 0011_invocation_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sandlot.storage.tables import UtcDateTime

revision = "0012_async_queue"
down_revision = "0011_invocation_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before this were sync calls that ran: attempt 1.
    with op.batch_alter_table("invocations") as batch_op:
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("max_attempts", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("run_after", UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_until", UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(256), nullable=True))
        batch_op.add_column(sa.Column("caused_by", sa.String(26), nullable=True))
    op.create_index("ix_invocations_queue", "invocations", ["state", "run_after"])
    op.create_index(
        "ux_invocations_idempotency",
        "invocations",
        ["namespace_id", "function_id", "idempotency_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_invocations_idempotency", table_name="invocations")
    op.drop_index("ix_invocations_queue", table_name="invocations")
    with op.batch_alter_table("invocations") as batch_op:
        for column in (
            "caused_by",
            "idempotency_key",
            "attempts",
            "payload",
            "lease_owner",
            "lease_until",
            "run_after",
            "max_attempts",
            "attempt",
        ):
            batch_op.drop_column(column)
