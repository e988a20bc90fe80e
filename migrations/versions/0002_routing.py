"""routing tables: versioned dispatch catalogue, learning examples, trained models.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import ticketing.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_catalogue",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("matter", sa.String(100), nullable=False),
        sa.Column("keywords", ticketing.models.JSONText(), nullable=False),
        sa.Column("co_units", ticketing.models.JSONText(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("unit", "matter"),
    )
    op.create_index("ix_routing_catalogue_unit", "routing_catalogue", ["unit"])
    op.create_table(
        "routing_catalogue_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("matter", sa.String(100), nullable=False),
        sa.Column("before", ticketing.models.JSONText(), nullable=True),
        sa.Column("after", ticketing.models.JSONText(), nullable=True),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_routing_catalogue_changes_entry_id", "routing_catalogue_changes", ["entry_id"])
    op.create_table(
        "routing_examples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("ticket_number", sa.String(20), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("type", sa.String(10), nullable=True),
        sa.Column("label", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_routing_examples_unit", "routing_examples", ["unit"])
    op.create_index("ix_routing_examples_ticket", "routing_examples",
                    ["ticket_number", "unit", "label", "source"], unique=True)
    op.create_table(
        "routing_models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("catalogue_version", sa.Integer(), nullable=False),
        sa.Column("last_example_id", sa.Integer(), nullable=False),
        sa.Column("n_examples", sa.Integer(), nullable=False),
        sa.Column("n_features", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("routing_models")
    op.drop_index("ix_routing_examples_ticket", table_name="routing_examples")
    op.drop_index("ix_routing_examples_unit", table_name="routing_examples")
    op.drop_table("routing_examples")
    op.drop_index("ix_routing_catalogue_changes_entry_id", table_name="routing_catalogue_changes")
    op.drop_table("routing_catalogue_changes")
    op.drop_index("ix_routing_catalogue_unit", table_name="routing_catalogue")
    op.drop_table("routing_catalogue")
