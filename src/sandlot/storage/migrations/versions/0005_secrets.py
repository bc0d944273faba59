"""Secrets: a namespace's named values, sealed at rest, and the names each version uses.

Revision ID: 0005_secrets
Revises: 0004_identity
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sandlot.storage.tables

revision = "0005_secrets"
down_revision = "0004_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = sandlot.storage.tables.UtcDateTime(timezone=True)
    op.create_table(
        "secrets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("namespace_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespaces.id"], name=op.f("fk_secrets_namespace_id_namespaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secrets")),
        sa.UniqueConstraint("namespace_id", "name", name="uq_secrets_namespace_name"),
    )
    with op.batch_alter_table("secrets") as batch_op:
        batch_op.create_index(batch_op.f("ix_secrets_key_id"), ["key_id"], unique=False)
    with op.batch_alter_table("versions") as batch_op:
        batch_op.add_column(sa.Column("secrets", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("versions") as batch_op:
        batch_op.drop_column("secrets")
    op.drop_table("secrets")
