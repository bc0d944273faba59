"""Releases: aliases, the deploy history, progressive releases; the alias of each call, of
each schedule and of each function URL.

Revision ID: 0017_releases
Revises: 0016_function_urls
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sandlot.storage.tables

revision = "0017_releases"
down_revision = "0016_function_urls"
branch_labels = None
depends_on = None

_ACTIVE = "state IN ('running', 'paused')"


def upgrade() -> None:
    utc = sandlot.storage.tables.UtcDateTime(timezone=True)
    op.create_table(
        "aliases",
        sa.Column("function_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("routes", sa.JSON(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["function_id"], ["functions.id"], name=op.f("fk_aliases_function_id_functions")
        ),
        sa.PrimaryKeyConstraint("function_id", "name", name=op.f("pk_aliases")),
    )
    op.create_table(
        "alias_changes",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("function_id", sa.String(length=36), nullable=False),
        sa.Column("alias", sa.String(length=63), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", utc, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("release_id", sa.String(length=36), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alias_changes")),
    )
    op.create_index(
        "ix_alias_changes_function_id_id", "alias_changes", ["function_id", "id"], unique=False
    )
    op.create_table(
        "releases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("function_id", sa.String(length=36), nullable=False),
        sa.Column("alias", sa.String(length=63), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_started_at", utc, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.Column("finished_at", utc, nullable=True),
        sa.Column("judged", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["function_id"], ["functions.id"], name=op.f("fk_releases_function_id_functions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
    )
    op.create_index(
        "ux_releases_active_alias",
        "releases",
        ["function_id", "alias"],
        unique=True,
        sqlite_where=sa.text(_ACTIVE),
        postgresql_where=sa.text(_ACTIVE),
    )
    op.create_index("ix_releases_state", "releases", ["state"], unique=False)
    with op.batch_alter_table("invocations") as batch:
        batch.add_column(sa.Column("alias", sa.String(length=63), nullable=True))
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("alias", sa.String(length=63), nullable=True))
    # A URL per alias: the key becomes (function, alias), `latest` for the URLs made so far.
    with op.batch_alter_table("function_urls", recreate="always") as batch:
        batch.add_column(
            sa.Column("alias", sa.String(length=63), nullable=False, server_default="latest")
        )
        batch.drop_constraint("pk_function_urls", type_="primary")
        batch.create_primary_key("pk_function_urls", ["function_id", "alias"])


def downgrade() -> None:
    op.execute("DELETE FROM function_urls WHERE alias <> 'latest'")
    with op.batch_alter_table("function_urls", recreate="always") as batch:
        batch.drop_constraint("pk_function_urls", type_="primary")
        batch.drop_column("alias")
        batch.create_primary_key("pk_function_urls", ["function_id"])
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("alias")
    with op.batch_alter_table("invocations") as batch:
        batch.drop_column("alias")
    op.drop_index("ix_releases_state", table_name="releases")
    op.drop_index("ux_releases_active_alias", table_name="releases")
    op.drop_table("releases")
    op.drop_index("ix_alias_changes_function_id_id", table_name="alias_changes")
    op.drop_table("alias_changes")
    op.drop_table("aliases")
