"""POP3 account status and run history; the IMAP credential stored for background fetches

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("imap_credential", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("pop3_accounts") as batch:
        batch.add_column(sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_outcome", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("last_imported", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("total_imported", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_pop3_accounts_next_run_at", "pop3_accounts", ["next_run_at"])
    op.create_table(
        "pop3_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("already_there", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["pop3_accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_pop3_runs_account_id", "pop3_runs", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_pop3_runs_account_id", table_name="pop3_runs")
    op.drop_table("pop3_runs")
    op.drop_index("ix_pop3_accounts_next_run_at", table_name="pop3_accounts")
    with op.batch_alter_table("pop3_accounts") as batch:
        for column in (
            "next_run_at",
            "failures",
            "total_imported",
            "last_imported",
            "last_error",
            "last_outcome",
            "last_run_at",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("imap_credential")
