"""Function URLs: one public URL configuration per function.

Revision ID: 0016_function_urls
Revises: 0015_destinations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sandlot.storage.tables

revision = "0016_function_urls"
down_revision = "0015_destinations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = sandlot.storage.tables.UtcDateTime(timezone=True)
    op.create_table(
        "function_urls",
        sa.Column("function_id", sa.String(length=36), nullable=False),
        sa.Column("auth", sa.String(length=10), nullable=False),
        sa.Column("cors", sa.JSON(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("updated_at", utc, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["function_id"], ["functions.id"], name=op.f("fk_function_urls_function_id_functions")
        ),
        sa.PrimaryKeyConstraint("function_id", name=op.f("pk_function_urls")),
    )


def downgrade() -> None:
    op.drop_table("function_urls")
