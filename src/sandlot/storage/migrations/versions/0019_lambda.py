"""Lambda compatibility: keys that sign requests (SigV4), a log level per version, and the
warnings a version's build found (imports that no dependency provides).

Revision ID: 0019_lambda
Revises: 0018_egress
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_lambda"
down_revision = "0018_egress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # All nullable. A key made before this has no sealed copy of its secret, so it cannot
    # sign Lambda API requests (a new key can); an existing version logs at INFO and has no
    # build warnings.
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("sigv4_key_id", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("sigv4_sealed", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("versions") as batch_op:
        batch_op.add_column(sa.Column("log_level", sa.String(8), nullable=True))
        batch_op.add_column(sa.Column("build_warnings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch_op:
        batch_op.drop_column("build_warnings")
        batch_op.drop_column("log_level")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("sigv4_sealed")
        batch_op.drop_column("sigv4_key_id")
