"""What a running job sees: its parameters, the database, the files, and a way to report progress."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, update
from sqlmodel import Session, col

from digitlab.core.config import Settings
from digitlab.core.db import unit_of_work
from digitlab.core.storage import FileStorage
from digitlab.jobs.tables import Job, JobStatus


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

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One step of the job's database work: committed when the block ends, rolled back if it raises."""
        with unit_of_work(self.engine) as session:
            yield session

    def progress(self, fraction: float, message: str | None = None, force: bool = False) -> None:
        """Record progress (0..1) and stop the job if someone asked to cancel it."""
        now = time.monotonic()
        if not force and now - self._last_report < self.min_report_interval:
            return
        self._last_report = now
        with self.unit_of_work() as session:
            session.exec(
                update(Job)
                .where(col(Job.id) == self.job_id, col(Job.status) == JobStatus.RUNNING)
                .values(progress=max(0.0, min(1.0, fraction)), message=message)
            )
            job = session.get(Job, self.job_id)
            carry_on = job is not None and not job.cancel_requested and job.status == JobStatus.RUNNING
        if not carry_on:
            raise JobCancelled()
