"""Per-version pool policy: max_concurrency, min_warm, keep_alive_s.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch_op:
        batch_op.add_column(sa.Column("max_concurrency", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("min_warm", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("keep_alive_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch_op:
        batch_op.drop_column("keep_alive_s")
        batch_op.drop_column("min_warm")
        batch_op.drop_column("max_concurrency")
