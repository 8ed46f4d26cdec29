"""What a running job sees: its parameters, the database, the files, and a way to report progress."""

import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, update
from sqlmodel import Session

from digitlab.core.config import Settings
from digitlab.core.storage import FileStorage
from digitlab.jobs.models import RUNNING, Job


class JobCancelled(Exception):
    """Raised inside a job when its cancellation was requested (checked at each progress report)."""


@dataclass
class JobContext:
    job_id: int
    project_id: int
    params: dict
    engine: Engine
    storage: FileStorage
    settings: Settings
    min_report_interval: float = 0.2
    _last_report: float = field(default=0.0, repr=False)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def progress(self, fraction: float, message: str | None = None, force: bool = False) -> None:
        """Record progress (0..1) and stop the job if someone asked to cancel it."""
        now = time.monotonic()
        if not force and now - self._last_report < self.min_report_interval:
            return
        self._last_report = now
        with self.session() as session:
            session.exec(update(Job).where(Job.id == self.job_id, Job.status == RUNNING)
                         .values(progress=max(0.0, min(1.0, fraction)), message=message))
            session.commit()
            job = session.get(Job, self.job_id)
            if job is None or job.cancel_requested or job.status != RUNNING:
                raise JobCancelled()
