"""the outcome message ("Ergebnis später zuschicken"), and each impulse's language

Revision ID: 0011
Revises: 0010

`followup_subscribers`: who asked at the end of the dialog to hear what came of the
consultation (goes with the person: /loeschen). `followup_messages`: a moderator's outcome
message, from draft to sent, claimed with a lease while it is being sent. `followup_deliveries`:
one row per message and person, written before the message goes out, so that nobody gets the
same outcome message twice, not even across a restart (storage/followup.py).

`impulses.locale`: the language the author used the bot in when the impulse was created, so a
rating card can say that an idea is written in another language than the reader's. Filled for
earlier impulses from their author's language, where the author is still known.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE impulses SET locale = (
    SELECT participants.locale FROM participants WHERE participants.id = impulses.participant_id
)
WHERE participant_id IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "followup_subscribers",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("participant_id"),
    )
    op.create_table(
        "followup_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("recipients", sa.Integer(), server_default="0", nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_followup_messages_status", "followup_messages", ["status"])
    op.create_table(
        "followup_deliveries",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["followup_messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id", "participant_id"),
    )
    op.create_index(
        "ix_followup_deliveries_status",
        "followup_deliveries",
        ["message_id", "status", "participant_id"],
    )
    with op.batch_alter_table("impulses") as batch:
        batch.add_column(sa.Column("locale", sa.String(16), nullable=True))
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table("impulses") as batch:
        batch.drop_column("locale")
    op.drop_index("ix_followup_deliveries_status", table_name="followup_deliveries")
    op.drop_table("followup_deliveries")
    op.drop_index("ix_followup_messages_status", table_name="followup_messages")
    op.drop_table("followup_messages")
    op.drop_table("followup_subscribers")
