"""call_recordings: every recording of a call (per leg and mixed), not only the citizen's

Existing calls get one 'caller' row from calls.recording_path (deleted when the call's recording
was deleted by retention), so one table lists, serves and deletes every file.

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("leg", sa.String(length=32), nullable=False),
        sa.Column("speaker", sa.String(length=16), nullable=False),
        sa.Column("extension", sa.String(length=40), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("offset", sa.Float(), nullable=False, server_default="0"),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id", "leg", name="uq_call_recordings_call_leg"),
    )
    op.create_index("ix_call_recordings_call_id", "call_recordings", ["call_id"])
    op.execute(
        "INSERT INTO call_recordings (call_id, leg, speaker, path, seconds, \"offset\", deleted_at) "
        "SELECT id, 'caller', 'caller', recording_path, recording_seconds, 0, recording_deleted_at "
        "FROM calls WHERE recording_path IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_call_recordings_call_id", table_name="call_recordings")
    op.drop_table("call_recordings")
