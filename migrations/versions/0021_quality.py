"""质检 (call quality inspection): the rubric and one inspection per answered call

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_rubric",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "call_inspections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("call_id", sa.Integer(), sa.ForeignKey("calls.id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("call_uuid", sa.String(32), nullable=False, index=True),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True, index=True),
        sa.Column("operator", sa.String(80), nullable=True, index=True),
        sa.Column("call_started_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("rubric_version", sa.Integer(), nullable=False),
        sa.Column("auto_score", sa.Float(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False, index=True),
        sa.Column("inspector", sa.String(80), nullable=True, index=True),
        sa.Column("queued_at", sa.DateTime(), nullable=True),
        sa.Column("item_scores", sa.Text(), nullable=True),
        sa.Column("manual_score", sa.Float(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("scored_at", sa.DateTime(), nullable=True),
        sa.Column("appeal_reason", sa.Text(), nullable=True),
        sa.Column("appealed_at", sa.DateTime(), nullable=True),
        sa.Column("appeal_decision", sa.String(10), nullable=True),
        sa.Column("appeal_note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(80), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("call_inspections")
    op.drop_table("quality_rubric")
