from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class JobStatus(StrEnum):
    """queued -> running -> succeeded | failed | cancelled; a queued job may also be cancelled or fail (never
    sent to a worker). Only digitlab.jobs.states.transition moves a job from one to another."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        # The queue's questions (digitlab.jobs.queue, estimates): who started recently, the latest finished jobs.
        Index("ix_jobs_started_at", "started_at"),
        Index("ix_jobs_status_finished_at", "status", "finished_at"),
        NO_ID_REUSE,
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    owner_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=32)
    status: str = Field(default=JobStatus.QUEUED, max_length=16, index=True)  # a JobStatus
    progress: float = 0.0
    message: str | None = None
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = None  # why it failed, in English (see digitlab.jobs.states.Reason)
    # ... as a code (the web app's `error.<code>` text; also set when cancelled) and the numbers in that sentence.
    error_code: str | None = Field(default=None, max_length=64)
    error_params: dict | None = Field(default=None, sa_column=Column(JSON))
    cancel_requested: bool = False
    # "host:pid" of the process that claimed the job, and when its worker last said it is alive.
    worker: str | None = Field(default=None, max_length=100)
    heartbeat_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
