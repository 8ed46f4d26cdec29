"""scans.manual_corners: the grid's corners placed by hand, used by the extraction instead of searching

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 02:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("manual_corners", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scans", schema=None) as batch_op:
        batch_op.drop_column("manual_corners")
