"""Several `sip` processes: each one's heartbeat (`sip_instances`) and which one holds a queued call

Revision ID: 0020
Revises: 0019

A `sip` process that dies (kill -9, power) leaves its calls open; the reaper of a surviving process
(or the beat task) sees its heartbeat go stale and closes them (outcome `interrupted`).
"""
from alembic import op
import sqlalchemy as sa

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sip_instances",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("host", sa.String(100), nullable=False),
        sa.Column("sip_address", sa.String(100), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False, index=True),
        sa.Column("stopped_at", sa.DateTime(), nullable=True),
        sa.Column("reaped_at", sa.DateTime(), nullable=True),
        sa.Column("reaped_by", sa.String(32), nullable=True),
        sa.Column("reaped_calls", sa.Integer(), nullable=True),
    )
    with op.batch_alter_table("call_queue") as batch:
        batch.add_column(sa.Column("sip_instance", sa.String(32), nullable=True))
        batch.create_index("ix_call_queue_sip_instance", ["sip_instance"])


def downgrade() -> None:
    with op.batch_alter_table("call_queue") as batch:
        batch.drop_index("ix_call_queue_sip_instance")
        batch.drop_column("sip_instance")
    op.drop_table("sip_instances")
