"""job queue: indexes for the fair queue's questions (who started a job recently, the latest finished jobs for the
duration estimates), which run whenever a slot frees and for every waiting student's place

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:50:00
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_started_at", "jobs", ["started_at"], unique=False)
    op.create_index("ix_jobs_status_finished_at", "jobs", ["status", "finished_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_jobs_status_finished_at", table_name="jobs")
    op.drop_index("ix_jobs_started_at", table_name="jobs")
