"""ratings: citizens weigh each other's impulses, report them; merged duplicates

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ratings",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("impulse_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["impulse_id"], ["impulses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("participant_id", "impulse_id"),
    )
    op.create_index("ix_ratings_impulse", "ratings", ["impulse_id"])
    op.create_table(
        "impulse_reports",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("impulse_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["impulse_id"], ["impulses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("participant_id", "impulse_id"),
    )
    op.create_index("ix_impulse_reports_impulse", "impulse_reports", ["impulse_id"])
    with op.batch_alter_table("impulses") as batch:
        batch.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("impulses") as batch:
        batch.drop_column("merged_into")
    op.drop_index("ix_impulse_reports_impulse", table_name="impulse_reports")
    op.drop_table("impulse_reports")
    op.drop_index("ix_ratings_impulse", table_name="ratings")
    op.drop_table("ratings")
