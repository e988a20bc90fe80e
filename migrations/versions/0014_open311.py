"""Open311 GeoReport v2: towns get a centre point and radius; API keys; per-request Open311 data

Revision ID: 0014
Revises: 0013

The towns' coordinates are data (ticketing/data/towns.yaml): `hotline seed` / `hotline run` fill
them in for towns that have none, in new and existing databases alike.
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("towns") as batch:
        batch.add_column(sa.Column("center_lat", sa.Float(), nullable=True))
        batch.add_column(sa.Column("center_long", sa.Float(), nullable=True))
        batch.add_column(sa.Column("radius_km", sa.Float(), nullable=True))
    op.create_table(
        "open311_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "open311_requests",
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("service_code", sa.String(40), nullable=False, index=True),
        sa.Column("token", sa.String(40), nullable=False, unique=True),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("open311_keys.id"), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("long", sa.Float(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_open311_requests_requested_at", "open311_requests", ["requested_at"])


def downgrade() -> None:
    op.drop_index("ix_open311_requests_requested_at", table_name="open311_requests")
    op.drop_table("open311_requests")
    op.drop_table("open311_keys")
    with op.batch_alter_table("towns") as batch:
        batch.drop_column("radius_km")
        batch.drop_column("center_long")
        batch.drop_column("center_lat")
