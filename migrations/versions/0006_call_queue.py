"""call queue (ACD): queue/operator/KPI columns on calls, and call_offers

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (
    ("queued_at", sa.DateTime()), ("offered_at", sa.DateTime()), ("connected_at", sa.DateTime()),
    ("wait_seconds", sa.Float()), ("talk_seconds", sa.Float()), ("hold_seconds", sa.Float()),
    ("wrapup_seconds", sa.Float()), ("hangup_side", sa.String(length=10)),
    ("operator_id", sa.Integer()), ("operator_extension", sa.String(length=20)),
    ("outcome", sa.String(length=16)), ("callback_at", sa.DateTime()),
    ("callback_by", sa.String(length=80)), ("callback_note", sa.String(length=300)),
)


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
        batch.create_foreign_key("fk_calls_operator_id", "users", ["operator_id"], ["id"])
        batch.create_index("ix_calls_operator_id", ["operator_id"])
        batch.create_index("ix_calls_outcome", ["outcome"])
    op.create_table(
        "call_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_uuid", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(length=20), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("idle_since", sa.DateTime(), nullable=True),
        sa.Column("offered_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("result", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_call_offers_call_uuid", "call_offers", ["call_uuid"])
    op.create_index("ix_call_offers_user_id", "call_offers", ["user_id"])
    op.create_index("ix_call_offers_offered_at", "call_offers", ["offered_at"])


def downgrade() -> None:
    op.drop_table("call_offers")
    with op.batch_alter_table("calls") as batch:
        batch.drop_index("ix_calls_outcome")
        batch.drop_index("ix_calls_operator_id")
        batch.drop_constraint("fk_calls_operator_id", type_="foreignkey")
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
