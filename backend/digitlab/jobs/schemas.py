from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from digitlab.jobs.tables import JobStatus


class QueuePlace(BaseModel):
    """Where a waiting job stands in its queue (extractions and trainings queue apart), and when it should start
    and end: estimated from how long recent jobs of its kind took on this server, refreshed as the queue moves."""

    position: int = Field(ge=1, description="1: the next job to start")
    jobs_ahead: int = Field(ge=0)
    estimated_start: datetime
    estimated_end: datetime
    seconds_to_start: float = Field(ge=0, description="From when this was said (no clock of the client needed)")
    seconds_to_end: float = Field(ge=0)


# Why a job failed (or was cancelled), for every answer that carries a job's outcome.
JobErrorCode = Annotated[
    str | None,
    Field(description="Why the job failed or was cancelled, as a code (one of shared/schemas/error-codes.json)"),
]
JobErrorParams = Annotated[dict | None, Field(description="The numbers in that reason, by name")]


class JobPublic(BaseModel):
    id: int
    project_id: int
    kind: str
    status: JobStatus
    progress: float
    message: str | None
    params: dict
    result: dict | None
    error: str | None
    error_code: JobErrorCode = None
    error_params: JobErrorParams = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    queue: QueuePlace | None = Field(default=None, description="While the job waits: its place and estimates")
