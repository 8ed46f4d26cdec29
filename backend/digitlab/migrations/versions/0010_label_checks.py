"""label_checks: out-of-fold checks of a project's labels and their scores per sample

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 02:30:00.000000
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("issues", sa.Integer(), nullable=False),
        sa.Column("agreement", sa.Float(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("label_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_checks_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_label_checks_job_id"), ["job_id"], unique=False)

    op.create_table(
        "sample_scores",
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("label", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("quality", sa.Float(), nullable=False),
        sa.Column("suggested", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("issue", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["check_id"], ["label_checks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["cell_id"], ["cells.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("check_id", "cell_id"),
    )
    with op.batch_alter_table("sample_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_scores_cell_id"), ["cell_id"], unique=False)
        batch_op.create_index("ix_sample_scores_check_label", ["check_id", "label", "quality"], unique=False)


def downgrade() -> None:
    # Children first; their indexes go with them.
    op.drop_table("sample_scores")
    op.drop_table("label_checks")
