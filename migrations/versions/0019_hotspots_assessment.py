"""Hot topics (热点诉求: per-ticket facts, day x matter x town counts, announced spikes) and the
department assessment (考核: scheme versions, published months)

Revision ID: 0019
Revises: 0018

The hot-topic rollup fills itself from the existing tickets on the first scan after the upgrade
(its high-water marks start at 0).
"""
from alembic import op
import sqlalchemy as sa

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hotspot_facts",
        sa.Column("ticket_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("matter", sa.String(100), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
    )
    op.create_index("ix_hotspot_facts_day", "hotspot_facts", ["day"])
    op.create_table(
        "hotspot_daily",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("matter", sa.String(100), primary_key=True),
        sa.Column("town_id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "hotspot_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("matter", sa.String(100), nullable=False),
        sa.Column("town_id", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=False),
        sa.Column("q_value", sa.Float(), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("day", "matter", "town_id", name="uq_hotspot_alerts_cell"),
    )
    op.create_index("ix_hotspot_alerts_day", "hotspot_alerts", ["day"])
    op.create_table(
        "assessment_schemes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("weights", sa.Text(), nullable=False),
        sa.Column("deductions", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "assessment_months",
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("scheme", sa.Text(), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("published_by", sa.String(80), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("assessment_months")
    op.drop_table("assessment_schemes")
    op.drop_index("ix_hotspot_alerts_day", "hotspot_alerts")
    op.drop_table("hotspot_alerts")
    op.drop_table("hotspot_daily")
    op.drop_index("ix_hotspot_facts_day", "hotspot_facts")
    op.drop_table("hotspot_facts")
