"""dataset imports: each imported data set is recorded by the hash of its samples, so it is imported once;
cells.split_hint, never used, is dropped

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 21:00:00
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "content_sha256"),
        sqlite_autoincrement=True,  # ids are never reused (see core.db.NO_ID_REUSE)
    )
    with op.batch_alter_table("dataset_imports") as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_imports_project_id"), ["project_id"], unique=False)
    # On SQLite the table is rebuilt: keep its AUTOINCREMENT (ids never reused, migration 0003).
    with op.batch_alter_table("cells", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.drop_column("split_hint")


def downgrade() -> None:
    with op.batch_alter_table("cells", table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column("split_hint", sa.String(length=8), nullable=True))
    with op.batch_alter_table("dataset_imports") as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_imports_project_id"))
    op.drop_table("dataset_imports")
