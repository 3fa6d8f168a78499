"""digests: the outbox for periodic result digests, and indexes for their counts

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period_key", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("figures", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("message_ids", sa.Text(), server_default="[]", nullable=False),
        sa.Column("inflight", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_key", name="uq_digests_period_key"),
    )
    op.create_index("ix_digests_status_end", "digests", ["status", "period_end"])
    op.create_index("ix_participants_consented_at", "participants", ["consented_at"])
    op.create_index("ix_impulses_status_decided", "impulses", ["status", "decided_at"])


def downgrade() -> None:
    op.drop_index("ix_impulses_status_decided", table_name="impulses")
    op.drop_index("ix_participants_consented_at", table_name="participants")
    op.drop_index("ix_digests_status_end", table_name="digests")
    op.drop_table("digests")
