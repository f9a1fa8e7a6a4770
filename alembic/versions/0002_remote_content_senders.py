"""remote_content_senders: senders whose remote images a user always loads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remote_content_senders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_remote_content_senders_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_content_senders")),
        sa.UniqueConstraint("user_id", "address", name=op.f("uq_remote_content_senders_user_id")),
    )
    op.create_index(
        op.f("ix_remote_content_senders_user_id"), "remote_content_senders", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_remote_content_senders_user_id"), table_name="remote_content_senders")
    op.drop_table("remote_content_senders")
