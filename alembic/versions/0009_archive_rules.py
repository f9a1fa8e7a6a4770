"""archive_rules: auto-archive rules per folder, with the last run's moves for Undo

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("folder", sa.String(length=1000), nullable=False),
        sa.Column("older_than_days", sa.Integer(), nullable=False),
        sa.Column("only_read", sa.Boolean(), nullable=False),
        sa.Column("skip_starred", sa.Boolean(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("layout", sa.String(length=10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outcome", sa.String(length=500), nullable=True),
        sa.Column("last_count", sa.Integer(), nullable=False),
        sa.Column("last_moves", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_archive_rules_user_id", "archive_rules", ["user_id"])
    op.create_index("ix_archive_rules_last_run_at", "archive_rules", ["last_run_at"])


def downgrade() -> None:
    op.drop_index("ix_archive_rules_last_run_at", table_name="archive_rules")
    op.drop_index("ix_archive_rules_user_id", table_name="archive_rules")
    op.drop_table("archive_rules")
