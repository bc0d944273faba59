"""People and their roles in namespaces: users, memberships, and what keys and namespaces
need for them (a key's creator, function scope, expiry, last use; a namespace's display name
and deletion).

Revision ID: 0003_accounts
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sandlot.storage.tables

revision = "0003_accounts"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = sandlot.storage.tables.UtcDateTime(timezone=True)
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("platform_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("disabled_at", utc, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("login", name=op.f("uq_users_login")),
    )
    op.create_table(
        "memberships",
        sa.Column("namespace_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["namespaces.id"],
            name=op.f("fk_memberships_namespace_id_namespaces"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users")
        ),
        sa.PrimaryKeyConstraint("namespace_id", "user_id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships") as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_user_id"), ["user_id"], unique=False)
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("functions", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", utc, nullable=True))
        batch_op.add_column(sa.Column("last_used_at", utc, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_user_id_users"), "users", ["user_id"], ["id"]
        )
    with op.batch_alter_table("namespaces") as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", utc, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("namespaces") as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("display_name")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_keys_user_id_users"), type_="foreignkey")
        for column in ("last_used_at", "expires_at", "functions", "user_id"):
            batch_op.drop_column(column)
    op.drop_table("memberships")
    op.drop_table("users")
