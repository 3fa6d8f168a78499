"""incidents the moderators hear of at most once

Revision ID: 0012
Revises: 0011

`incidents`: one row per kind of incident while it lasts (the digest that cannot be posted):
the failures in a row and when the moderators were told. Deleted when it works again
(storage/incidents.py), so a restart or a second instance does not tell them twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kind"),
    )


def downgrade() -> None:
    op.drop_table("incidents")
