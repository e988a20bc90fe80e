"""privacy: access records, erasable personal fields in the hash chain (chain version 2)

Existing events get chain_version 1 and keep verifying with the version-1 digest.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

import ticketing.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket_events") as batch:
        batch.add_column(sa.Column("chain_version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("pii_salts", ticketing.models.JSONText(), nullable=True))
        batch.add_column(sa.Column("redacted", ticketing.models.JSONText(), nullable=True))
        batch.add_column(sa.Column("redacted_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
    op.create_table(
        "access_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ticket_number", sa.String(length=20), nullable=True),
        sa.Column("call_id", sa.String(length=32), nullable=True),
        sa.Column("via", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_records_at", "access_records", ["at"])
    op.create_index("ix_access_records_actor", "access_records", ["actor"])
    op.create_index("ix_access_records_ticket_number", "access_records", ["ticket_number"])


def downgrade() -> None:
    op.drop_table("access_records")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("erased_at")
    with op.batch_alter_table("ticket_events") as batch:
        for name in ("redacted_at", "redacted", "pii_salts", "chain_version"):
            batch.drop_column(name)
