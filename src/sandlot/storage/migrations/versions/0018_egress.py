"""Network egress: each version's policy, and each namespace's bound on them.

Revision ID: 0018_egress
Revises: 0017_releases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_egress"
down_revision = "0017_releases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both nullable: an existing version has no network (`none`), an existing namespace
    # takes the server's default bound.
    with op.batch_alter_table("versions") as batch_op:
        batch_op.add_column(sa.Column("egress", sa.JSON(), nullable=True))
    with op.batch_alter_table("namespaces") as batch_op:
        batch_op.add_column(sa.Column("egress_bound", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("namespaces") as batch_op:
        batch_op.drop_column("egress_bound")
    with op.batch_alter_table("versions") as batch_op:
        batch_op.drop_column("egress")
