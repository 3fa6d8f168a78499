"""inbox payloads in their own table, deleted once the update is handled

Revision ID: 0006
Revises: 0005

A handled update used to keep its inbox row with the payload blanked. Its cell shrank from about
2 KB to a few bytes, but SQLite does not merge the pages it leaves nearly empty, so the file
grew by about 20 KB per citizen (400 MB after 18,000 dialogs, 98 % of it unused space in the
inbox). Deleted rows free their pages for the next inserts: the payloads table holds only what
is still pending.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "inbox_payloads",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("update_id"),
    )
    op.execute(
        "INSERT INTO inbox_payloads (update_id, payload)"
        " SELECT update_id, payload FROM inbox WHERE status = 'pending'"
    )
    # Dropped and made again around the batch: a copied table would lose its WHERE on SQLite.
    op.drop_index("ix_inbox_pending_order", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("payload")
    _pending_order_index()


def downgrade() -> None:
    op.drop_index("ix_inbox_pending_order", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("payload", sa.Text(), nullable=False, server_default=""))
    _pending_order_index()
    op.execute(
        "UPDATE inbox SET payload = (SELECT p.payload FROM inbox_payloads AS p"
        " WHERE p.update_id = inbox.update_id) WHERE status = 'pending'"
    )
    op.drop_table("inbox_payloads")


def _pending_order_index() -> None:
    op.create_index(
        "ix_inbox_pending_order",
        "inbox",
        ["ordering_key", "update_id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
