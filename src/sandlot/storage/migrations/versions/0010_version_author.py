"""Who deployed a version: a login, or `key:<key name>`.

Versions made before this migration have no author (null): nobody recorded it then, and
guessing one from the audit log would state as fact what is only likely.

Revision ID: 0010_version_author
Revises: 0009_metrics_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_version_author"
down_revision = "0009_metrics_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("deployed_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("deployed_by")
