"""Citizen portal: the web side of a ticket (tracking code digest, consent to publish, public text)
and one-time SMS codes (digests only)

Revision ID: 0018
Revises: 0017
"""
from alembic import op
import sqlalchemy as sa

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_requests",
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tracking_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column("public_content", sa.Text(), nullable=False),
        sa.Column("photos", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False, index=True),
    )
    op.create_table(
        "portal_codes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False, index=True),
        sa.Column("purpose", sa.String(10), nullable=False),
        sa.Column("ticket_number", sa.String(20), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("portal_codes")
    op.drop_table("portal_requests")
