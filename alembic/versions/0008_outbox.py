"""outbox: messages waiting for their undo window or their "send later" time

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.String(length=64), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("sent_copy", sa.LargeBinary(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("reply_ref", sa.String(length=1100), nullable=False),
        sa.Column("reply_kind", sa.String(length=20), nullable=False),
        sa.Column("credential", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_outbox_user_id", "outbox", ["user_id"])
    op.create_index("ix_outbox_send_at", "outbox", ["send_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_send_at", table_name="outbox")
    op.drop_index("ix_outbox_user_id", table_name="outbox")
    op.drop_table("outbox")
