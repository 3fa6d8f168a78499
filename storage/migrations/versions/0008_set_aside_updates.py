"""updates that could not be read, set aside

Revision ID: 0008
Revises: 0007

An update the pinned aiogram's models reject even after the lenient repairs (bot/telegram/lenient.py) is
no longer handled but recorded here: its id (once), its kind, the locations and types of its
validation errors, and the time. No payload. Kept `privacy.set_aside_days`.
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
        "set_aside_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("set_aside_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("update_id"),
    )
    op.create_index("ix_set_aside_updates_at", "set_aside_updates", ["set_aside_at"])


def downgrade() -> None:
    op.drop_index("ix_set_aside_updates_at", table_name="set_aside_updates")
    op.drop_table("set_aside_updates")
