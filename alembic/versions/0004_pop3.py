"""pop3_accounts and pop3_imported_uids: external POP3 accounts and what was imported from them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pop3_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("security", sa.String(length=10), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("password_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("folder", sa.String(length=1000), nullable=False),
        sa.Column("leave_on_server", sa.Boolean(), nullable=False),
        sa.Column("delete_after_days", sa.Integer(), nullable=True),
        sa.Column("only_new", sa.Boolean(), nullable=False),
        sa.Column("mark_read", sa.Boolean(), nullable=False),
        sa.Column("max_size_mb", sa.Integer(), nullable=True),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("has_run", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_pop3_accounts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pop3_accounts")),
    )
    op.create_index(op.f("ix_pop3_accounts_user_id"), "pop3_accounts", ["user_id"], unique=False)
    op.create_table(
        "pop3_imported_uids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["pop3_accounts.id"],
            name=op.f("fk_pop3_imported_uids_account_id_pop3_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pop3_imported_uids")),
        sa.UniqueConstraint("account_id", "uid", name=op.f("uq_pop3_imported_uids_account_id")),
    )
    op.create_index(
        op.f("ix_pop3_imported_uids_account_id"), "pop3_imported_uids", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_pop3_imported_uids_account_id"), table_name="pop3_imported_uids")
    op.drop_table("pop3_imported_uids")
    op.drop_index(op.f("ix_pop3_accounts_user_id"), table_name="pop3_accounts")
    op.drop_table("pop3_accounts")
