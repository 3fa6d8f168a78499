"""waves of new accounts, set aside by moderators

Revision ID: 0010
Revises: 0009

A moderator can set aside the participants who came through one start-link source within a
window of consent times (`waves`); they are marked with `participants.wave_id` and, while
active, get the status "set_aside", so every count of active participants leaves them out.
An index on (consented_at, source) finds a wave and the /stats counts per source; a partial
one on wave_id finds a wave's members.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

IN_A_WAVE = sa.text("wave_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "waves",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("participants", sa.Integer(), server_default="0", nullable=False),
        sa.Column("impulses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("wave_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_participants_consented_source", "participants", ["consented_at", "source"]
    )
    op.create_index(
        "ix_participants_wave",
        "participants",
        ["wave_id"],
        sqlite_where=IN_A_WAVE,
        postgresql_where=IN_A_WAVE,
    )


def downgrade() -> None:
    # Participants set aside count again: restore them before the column goes.
    op.execute("UPDATE participants SET status = 'active' WHERE status = 'set_aside'")
    op.execute(
        "UPDATE impulses SET rating_count = (SELECT count(*) FROM ratings JOIN participants"
        " ON participants.id = ratings.participant_id WHERE ratings.impulse_id = impulses.id"
        " AND participants.status = 'active')"
    )
    op.drop_index("ix_participants_wave", table_name="participants")
    op.drop_index("ix_participants_consented_source", table_name="participants")
    with op.batch_alter_table("participants") as batch:
        batch.drop_column("wave_id")
    op.drop_table("waves")
