from datetime import datetime

from pydantic import BaseModel


class JobPublic(BaseModel):
    id: int
    project_id: int
    kind: str
    status: str
    progress: float
    message: str | None
    params: dict
    result: dict | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
