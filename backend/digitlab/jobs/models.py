from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from digitlab.core.models import utcnow

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
FINISHED_STATES = (SUCCEEDED, FAILED, CANCELLED)


class Job(SQLModel, table=True):
    __tablename__ = "jobs"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    owner_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=32)
    status: str = Field(default=QUEUED, max_length=16, index=True)
    progress: float = 0.0
    message: str | None = None
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict | None = Field(default=None, sa_column=Column(JSON))
    error: str | None = None
    cancel_requested: bool = False
    # "host:pid" of the process that claimed the job, and when its worker last said it is alive.
    worker: str | None = Field(default=None, max_length=100)
    heartbeat_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
