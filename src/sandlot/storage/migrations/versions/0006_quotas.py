"""Per-namespace quotas: a namespace's own limits, null meaning the server's default.

Revision ID: 0006_quotas
Revises: 0005_secrets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sandlot.storage.tables

revision = "0006_quotas"
down_revision = "0005_secrets"
branch_labels = None
depends_on = None

_LIMITS = ("functions", "memory_mb", "concurrency", "rate_per_minute", "code_mb", "env_kb")


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("namespace_id", sa.String(length=36), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=True) for name in _LIMITS),
        sa.Column("updated_at", sandlot.storage.tables.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespaces.id"], name=op.f("fk_quotas_namespace_id_namespaces")
        ),
        sa.PrimaryKeyConstraint("namespace_id", name=op.f("pk_quotas")),
    )


def downgrade() -> None:
    op.drop_table("quotas")
