"""call KPIs from one computation: call_daily counts abandoned calls too

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_daily") as batch:
        batch.add_column(sa.Column("abandoned", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("call_daily") as batch:
        batch.alter_column("abandoned", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("call_daily") as batch:
        batch.drop_column("abandoned")
