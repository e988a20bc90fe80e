"""telephony tables: calls, call_segments, call_dtmf

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import ticketing.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uuid", sa.String(length=32), nullable=False),
        sa.Column("sip_call_id", sa.String(length=255), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("caller", sa.String(length=100), nullable=False),
        sa.Column("caller_phone", sa.String(length=20), nullable=True),
        sa.Column("called", sa.String(length=100), nullable=False),
        sa.Column("codec", sa.String(length=10), nullable=True),
        sa.Column("ringing_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("hangup_cause", sa.String(length=32), nullable=False),
        sa.Column("recording_path", sa.String(length=500), nullable=True),
        sa.Column("recording_seconds", sa.Float(), nullable=True),
        sa.Column("recording_deleted_at", sa.DateTime(), nullable=True),
        sa.Column("transcription", sa.String(length=16), nullable=False),
        sa.Column("transcription_note", sa.String(length=300), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("ticket_number", sa.String(length=20), nullable=True),
        sa.Column("stats", ticketing.models.JSONText(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_uuid"),
    )
    op.create_index("ix_calls_sip_call_id", "calls", ["sip_call_id"])
    op.create_index("ix_calls_caller_phone", "calls", ["caller_phone"])
    op.create_index("ix_calls_ended_at", "calls", ["ended_at"])
    op.create_index("ix_calls_ticket_id", "calls", ["ticket_id"])
    op.create_index("ix_calls_ticket_number", "calls", ["ticket_number"])
    op.create_table(
        "call_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(length=16), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_call_segments_call_id", "call_segments", ["call_id"])
    op.create_table(
        "call_dtmf",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("digit", sa.String(length=1), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_call_dtmf_call_id", "call_dtmf", ["call_id"])


def downgrade() -> None:
    op.drop_table("call_dtmf")
    op.drop_table("call_segments")
    op.drop_table("calls")
