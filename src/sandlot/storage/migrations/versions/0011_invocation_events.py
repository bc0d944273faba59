"""Each invocation's event, kept with its record up to SANDLOT_INVOCATION_EVENT_BYTES.

Revision ID: 0011_invocation_events
Revises: 0010_version_author
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_invocation_events"
down_revision = "0010_version_author"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before this kept no event: NULL, not cut.
    with op.batch_alter_table("invocations") as batch_op:
        batch_op.add_column(sa.Column("event_text", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("event_truncated", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("invocations") as batch_op:
        batch_op.drop_column("event_truncated")
        batch_op.drop_column("event_text")
