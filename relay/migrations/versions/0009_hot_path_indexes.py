"""hot path indexes: fans by email and phone, suppressions by address, ledger by journey step

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_fan_email", "fan", ["email"]),
    ("ix_fan_phone", "fan", ["phone"]),
    ("ix_suppression_address", "suppression", ["address"]),
    ("ix_message_journey_step_message", "message", ["journey", "step", "message"]),
)


def upgrade() -> None:
    # Built CONCURRENTLY on PostgreSQL, outside a transaction: a plain CREATE INDEX on 11 M
    # fans and their ledger would block every send and webhook until it finished. SQLite
    # ignores the flag. Each index commits on its own, so an upgrade cut short is run again
    # over the ones already built; a concurrent build that failed leaves an invalid index
    # behind: drop it by hand and upgrade again.
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns, postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, table, _ in reversed(INDEXES):
            op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
