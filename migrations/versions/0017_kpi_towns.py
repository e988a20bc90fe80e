"""KPI rollup by town for the supervisor's reports: kpi_ticket_facts.town_id and kpi_town_daily;
an index on the facts by day for the reports' drill-down (the tickets behind a figure)

Revision ID: 0017
Revises: 0016

Existing facts get their ticket's town and kpi_town_daily is filled from them here, so a database
upgraded with history reports by town at once (no `hotline kpi rebuild` needed).
"""
from alembic import op
import sqlalchemy as sa

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COUNTERS = ("received", "direct", "dispatched", "returned", "signed_on_time", "replied_on_time", "extended",
            "callback_due", "called_back", "satisfied", "solved", "reopened", "has_phone", "repeat_call")


def upgrade() -> None:
    with op.batch_alter_table("kpi_ticket_facts") as batch:
        batch.add_column(sa.Column("town_id", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_kpi_ticket_facts_day", "kpi_ticket_facts", ["day", "ticket_id"])
    op.create_index("ix_kpi_ticket_facts_dept_day", "kpi_ticket_facts", ["department_id", "day", "ticket_id"])
    op.create_table(
        "kpi_town_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False, server_default="0") for name in COUNTERS],
        sa.PrimaryKeyConstraint("day", "town_id"),
    )
    op.execute("UPDATE kpi_ticket_facts SET town_id = coalesce((SELECT town_id FROM tickets "
               "WHERE tickets.id = kpi_ticket_facts.ticket_id), 0)")
    cols = ", ".join(COUNTERS)
    sums = ", ".join(f"sum({c})" for c in COUNTERS)
    op.execute(f"INSERT INTO kpi_town_daily (day, town_id, {cols}) "
               f"SELECT day, town_id, {sums} FROM kpi_ticket_facts GROUP BY day, town_id")


def downgrade() -> None:
    op.drop_table("kpi_town_daily")
    op.drop_index("ix_kpi_ticket_facts_dept_day", table_name="kpi_ticket_facts")
    op.drop_index("ix_kpi_ticket_facts_day", table_name="kpi_ticket_facts")
    with op.batch_alter_table("kpi_ticket_facts") as batch:
        batch.drop_column("town_id")
