"""participants per channel (Telegram or the web chat), and the web chat's invite codes

Revision ID: 0013
Revises: 0012

`participants.channel`: "telegram" for everyone so far, "web" for people taking part in the
web chat (bot/web/). `web_invites`: one-use codes for the web chat (`[web] invite_codes`),
stored as keyed hashes, with the time each was used.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(16), nullable=False, server_default="telegram")
        )
    op.create_table(
        "web_invites",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("web_invites")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("channel")
