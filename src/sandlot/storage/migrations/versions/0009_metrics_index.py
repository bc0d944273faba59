"""An index for a function's metrics: its invocations by creation time.

Revision ID: 0009_metrics_index
Revises: 0008_test_events
"""

from __future__ import annotations

from alembic import op

revision = "0009_metrics_index"
down_revision = "0008_test_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Covering: the counts and percentiles of a window never read the (wide) rows.
    op.create_index(
        "ix_invocations_function_metrics",
        "invocations",
        ["function_id", "created_at", "state", "cold_start", "duration_ms", "finished_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_invocations_function_metrics", table_name="invocations")
