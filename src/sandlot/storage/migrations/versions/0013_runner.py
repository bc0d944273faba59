"""Each function's retry policy for its asynchronous calls.

Revision ID: 0013_runner
Revises: 0012_async_queue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sandlot.storage.tables import UtcDateTime

revision = "0013_runner"
down_revision = "0012_async_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "function_async_configs",
        sa.Column("function_id", sa.String(36), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_on_error", sa.Boolean(), nullable=False),
        sa.Column("max_event_age_s", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("function_id", name=op.f("pk_function_async_configs")),
    )


def downgrade() -> None:
    op.drop_table("function_async_configs")
