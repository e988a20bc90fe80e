"""supervision: deadline cards, urging escalations, KPI facts and daily rollups, call facts.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COUNTERS = ("received", "direct", "dispatched", "returned", "signed_on_time", "replied_on_time",
            "extended", "callback_due", "called_back", "satisfied", "solved", "reopened",
            "has_phone", "repeat_call")


def _counters():
    return [sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in COUNTERS]


def upgrade() -> None:
    op.create_table(
        "deadline_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("deadline_kind", sa.String(length=10), nullable=False),
        sa.Column("card", sa.String(length=10), nullable=False),
        sa.Column("deadline_at", sa.DateTime(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "deadline_kind", "card", "deadline_at", name="uq_deadline_cards_once"),
    )
    op.create_index("ix_deadline_cards_ticket_id", "deadline_cards", ["ticket_id"])
    op.create_index("ix_deadline_cards_department_id", "deadline_cards", ["department_id"])
    op.create_index("ix_deadline_cards_issued_at", "deadline_cards", ["issued_at"])
    op.create_table(
        "urging_escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("urging_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("overdue_since", sa.DateTime(), nullable=False),
        sa.Column("escalated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["urging_id"], ["urgings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("urging_id"),
    )
    op.create_index("ix_urging_escalations_ticket_id", "urging_escalations", ["ticket_id"])
    op.create_index("ix_urging_escalations_department_id", "urging_escalations", ["department_id"])
    op.create_index("ix_urging_escalations_escalated_at", "urging_escalations", ["escalated_at"])
    op.create_table(
        "kpi_ticket_facts",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        *_counters(),
        sa.PrimaryKeyConstraint("ticket_id", "department_id"),
    )
    op.create_table(
        "kpi_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        *_counters(),
        sa.PrimaryKeyConstraint("day", "department_id", "type"),
    )
    op.create_index("ix_kpi_daily_dept_day", "kpi_daily", ["department_id", "day"])
    op.create_table(
        "kpi_monthly",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        *_counters(),
        sa.PrimaryKeyConstraint("month", "department_id", "type"),
    )
    op.create_table(
        "kpi_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "call_facts",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ringing_at", sa.DateTime(), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("call_id"),
    )
    op.create_index("ix_call_facts_day", "call_facts", ["day"])
    op.create_table(
        "call_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("answered_15s", sa.Integer(), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )


def downgrade() -> None:
    for table in ("call_daily", "call_facts", "kpi_state", "kpi_monthly", "kpi_daily", "kpi_ticket_facts",
                  "urging_escalations", "deadline_cards"):
        op.drop_table(table)
