"""a partial index of the people who blocked the bot

Revision ID: 0007
Revises: 0006

Every few seconds the bot reads who cannot be written to (storage/reachability.py). Without an
index that read scanned the reply address of every participant; these few rows have their own
partial index now, like the participants who are not active (0004).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UNREACHABLE = sa.text("NOT reachable")


def upgrade() -> None:
    op.create_index(
        "ix_reply_addresses_unreachable",
        "reply_addresses",
        ["participant_id"],
        sqlite_where=UNREACHABLE,
        postgresql_where=UNREACHABLE,
    )


def downgrade() -> None:
    op.drop_index("ix_reply_addresses_unreachable", table_name="reply_addresses")
