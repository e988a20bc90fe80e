"""call distribution moves to routing: the queue record of each call (call_queue), the operator
reservation on agent_states; the queue columns leave telephony's calls table

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: calls columns that were the queue's facts (migration 0006), now call_queue's
MOVED = ("queued_at", "offered_at", "connected_at", "wait_seconds", "talk_seconds", "hold_seconds",
         "wrapup_seconds", "hangup_side", "operator_id", "operator_extension", "outcome", "callback_at",
         "callback_by", "callback_note")
OLD_TYPES = {"queued_at": sa.DateTime(), "offered_at": sa.DateTime(), "connected_at": sa.DateTime(),
             "wait_seconds": sa.Float(), "talk_seconds": sa.Float(), "hold_seconds": sa.Float(),
             "wrapup_seconds": sa.Float(), "hangup_side": sa.String(length=10), "operator_id": sa.Integer(),
             "operator_extension": sa.String(length=20), "outcome": sa.String(length=16),
             "callback_at": sa.DateTime(), "callback_by": sa.String(length=80), "callback_note": sa.String(length=300)}


def upgrade() -> None:
    with op.batch_alter_table("agent_states") as batch:
        batch.add_column(sa.Column("reserved_call", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("reserved_at", sa.DateTime(), nullable=True))
    op.create_table(
        "call_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uuid", sa.String(length=32), nullable=False),
        sa.Column("caller", sa.String(length=100), nullable=False),
        sa.Column("caller_phone", sa.String(length=20), nullable=True),
        sa.Column("called", sa.String(length=100), nullable=True),
        sa.Column("ringing_at", sa.DateTime(), nullable=True),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("offered_at", sa.DateTime(), nullable=True),
        sa.Column("connected_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("hold_seconds", sa.Float(), nullable=True),
        sa.Column("wrapup_at", sa.DateTime(), nullable=True),
        sa.Column("wrapup_seconds", sa.Float(), nullable=True),
        sa.Column("hangup_side", sa.String(length=10), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("operator_extension", sa.String(length=20), nullable=True),
        sa.Column("callback_at", sa.DateTime(), nullable=True),
        sa.Column("callback_by", sa.String(length=80), nullable=True),
        sa.Column("callback_note", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_uuid"),
    )
    for col in ("queued_at", "state", "outcome", "operator_id"):
        op.create_index(f"ix_call_queue_{col}", "call_queue", [col])
    op.execute(
        "INSERT INTO call_queue (call_uuid, caller, caller_phone, called, ringing_at, queued_at, state, offered_at,"
        " connected_at, ended_at, outcome, wait_seconds, talk_seconds, hold_seconds, wrapup_seconds, hangup_side,"
        " operator_id, operator_extension, callback_at, callback_by, callback_note)"
        " SELECT call_uuid, caller, caller_phone, called, ringing_at, queued_at, 'ended', offered_at, connected_at,"
        " ended_at, outcome, wait_seconds, talk_seconds, hold_seconds, wrapup_seconds, hangup_side, operator_id,"
        " operator_extension, callback_at, callback_by, callback_note FROM calls WHERE queued_at IS NOT NULL")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_outcome")
        batch.drop_index("ix_calls_operator_id")
        batch.drop_constraint("fk_calls_operator_id", type_="foreignkey")
        for name in MOVED:
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for name in MOVED:
            batch.add_column(sa.Column(name, OLD_TYPES[name], nullable=True))
        batch.create_foreign_key("fk_calls_operator_id", "users", ["operator_id"], ["id"])
        batch.create_index("ix_calls_operator_id", ["operator_id"])
        batch.create_index("ix_calls_outcome", ["outcome"])
    cols = ", ".join(MOVED)
    op.execute(f"UPDATE calls SET ({cols}) = (SELECT {cols} FROM call_queue q WHERE q.call_uuid = calls.call_uuid)"
               " WHERE call_uuid IN (SELECT call_uuid FROM call_queue)")
    op.drop_table("call_queue")
    with op.batch_alter_table("agent_states") as batch:
        batch.drop_column("reserved_at")
        batch.drop_column("reserved_call")
