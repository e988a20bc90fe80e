"""ticket_call: the call a ticket was registered from (one ticket per call)

A unique, nullable ``tickets.call_uuid``: the operator's registration during a call and the draft
made at hang-up find each other through it, and the database refuses a second ticket for a call.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("call_uuid", sa.String(length=32), nullable=True))
    op.create_index("ix_tickets_call_uuid", "tickets", ["call_uuid"], unique=True)
    # tickets already linked to a call (its draft or the console's link) keep that call
    op.execute("UPDATE tickets SET call_uuid = (SELECT MIN(call_uuid) FROM calls WHERE calls.ticket_id = tickets.id) "
               "WHERE (SELECT COUNT(*) FROM calls WHERE calls.ticket_id = tickets.id) = 1")


def downgrade() -> None:
    op.drop_index("ix_tickets_call_uuid", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("call_uuid")
