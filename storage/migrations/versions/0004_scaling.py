"""scaling: running vote tallies (triggers), the inactive-participants index, inbox ordering

Revision ID: 0004
Revises: 0003

The trigger SQL lives in storage/tallies.py (one place for both dialects, also used by the
benchmark's bulk loader); a later change to it needs its own migration that drops and
recreates the triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage import tallies

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NOT_ACTIVE = sa.text("status <> 'active'")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "vote_tallies",
        sa.Column("topic_id", sa.String(length=24), nullable=False),
        sa.Column("votes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("topic_id"),
    )
    connection = op.get_bind()
    tallies.rebuild(connection)
    tallies.create_triggers(connection)
    op.create_index(
        "ix_participants_not_active",
        "participants",
        ["id"],
        sqlite_where=NOT_ACTIVE,
        postgresql_where=NOT_ACTIVE,
    )
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("ordering_key", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_inbox_pending_order",
        "inbox",
        ["ordering_key", "update_id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_pending_order", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("owner")
        batch.drop_column("ordering_key")
    op.drop_index("ix_participants_not_active", table_name="participants")
    tallies.drop_triggers(op.get_bind())
    op.drop_table("vote_tallies")
