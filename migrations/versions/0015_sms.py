"""SMS notices: the outbox of messages, admins' template edits, opt-outs, used rating links

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("template_key", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True),
        sa.Column("dedupe_key", sa.String(80), nullable=True, unique=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("dlr_status", sa.Integer(), nullable=True),
    )
    op.create_index("ix_sms_messages_phone", "sms_messages", ["phone"])
    op.create_index("ix_sms_messages_ticket_id", "sms_messages", ["ticket_id"])
    op.create_index("ix_sms_messages_created_at", "sms_messages", ["created_at"])
    op.create_index("ix_sms_messages_due", "sms_messages", ["status", "next_attempt_at"])
    op.create_table(
        "sms_templates",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "sms_opt_outs",
        sa.Column("phone", sa.String(20), primary_key=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "rating_link_uses",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("ticket_number", sa.String(20), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rating_link_uses")
    op.drop_table("sms_opt_outs")
    op.drop_table("sms_templates")
    op.drop_index("ix_sms_messages_due", table_name="sms_messages")
    op.drop_index("ix_sms_messages_created_at", table_name="sms_messages")
    op.drop_index("ix_sms_messages_ticket_id", table_name="sms_messages")
    op.drop_index("ix_sms_messages_phone", table_name="sms_messages")
    op.drop_table("sms_messages")
