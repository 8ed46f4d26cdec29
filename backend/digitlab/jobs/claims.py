"""Claiming, ending and sweeping job rows: the database side of every runner (local or Celery).

Every state change is a conditional UPDATE on the current status, so two processes (two runners, two
Celery workers, a worker and a sweeper) can never both win: the one whose UPDATE matched a row did it.
"""

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import Engine, func, update
from sqlmodel import Session, select

from digitlab.core.models import utcnow
from digitlab.jobs.models import FAILED, FINISHED_STATES, QUEUED, RUNNING, Job

LOST_REASON = "The worker running this job stopped responding. Please start it again."

# What a worker found when it was handed a job (see claim_delivered).
CLAIMED, GONE, FINISHED, STILL_RUNNING, LOST = "claimed", "gone", "finished", "still_running", "lost"


def claim_job(engine: Engine, job_id: int, worker: str) -> bool:
    """queued -> running, recording the worker ("host:pid") and started_at. True if this caller won."""
    with Session(engine) as session:
        claimed = session.exec(update(Job).where(Job.id == job_id, Job.status == QUEUED)
                               .values(status=RUNNING, started_at=utcnow(), heartbeat_at=None, worker=worker))
        session.commit()
        return claimed.rowcount == 1


def claim_next(engine: Engine, worker: str) -> int | None:
    """Claim the oldest queued job (the local runner's queue is the jobs table itself)."""
    with Session(engine) as session:
        candidates = session.exec(select(Job.id).where(Job.status == QUEUED)
                                  .order_by(Job.created_at, Job.id).limit(5)).all()
    for job_id in candidates:
        if claim_job(engine, job_id, worker):
            return job_id
    return None


def mark_ended(engine: Engine, job_id: int, status: str, error: str | None = None, message: str | None = None,
               **values) -> bool:
    """running -> a final state (never overwrites a state another process recorded first, e.g. a cancel).

    `values` are further columns to set with it (a worker's result and final progress)."""
    with Session(engine) as session:
        ended = session.exec(update(Job).where(Job.id == job_id, Job.status == RUNNING)
                             .values(status=status, error=error, message=message, finished_at=utcnow(), **values))
        session.commit()
        return ended.rowcount == 1


def _last_sign_of_life():  # noqa: ANN202
    return func.coalesce(Job.heartbeat_at, Job.started_at, Job.created_at)


def fail_stale_jobs(engine: Engine, stale_seconds: float, exclude: Iterable[int] = ()) -> int:
    """Fail every running job whose worker has been silent longer than stale_seconds (killed, machine gone).

    `exclude`: jobs the caller knows are alive (its own child processes)."""
    limit = utcnow() - timedelta(seconds=stale_seconds)
    exclude = list(exclude)
    query = update(Job).where(Job.status == RUNNING, _last_sign_of_life() < limit)
    if exclude:
        query = query.where(Job.id.not_in(exclude))
    with Session(engine) as session:
        failed = session.exec(query.values(status=FAILED, error=LOST_REASON, finished_at=utcnow()))
        session.commit()
        return failed.rowcount or 0


def claim_delivered(engine: Engine, job_id: int, worker: str, stale_seconds: float) -> str:
    """A distributed worker was handed job_id (first delivery or a redelivery after a lost worker).

    - queued: claimed here -> CLAIMED, run it;
    - running with a stale heartbeat: its worker died (the message came back because the worker was
      lost) -> failed with LOST_REASON, not run again (a job that killed its worker, e.g. out of memory,
      would otherwise kill worker after worker) -> LOST;
    - running with a fresh heartbeat: another worker still runs it (a duplicate delivery) -> STILL_RUNNING,
      leave it; if that worker is in fact gone, its heartbeat goes stale and the sweeper fails the job;
    - finished or cancelled -> FINISHED; no such row (project deleted) -> GONE.
    """
    if claim_job(engine, job_id, worker):
        return CLAIMED
    limit = utcnow() - timedelta(seconds=stale_seconds)
    with Session(engine) as session:
        job = session.get(Job, job_id)
        if job is None:
            return GONE
        if job.status in FINISHED_STATES:
            return FINISHED
        if job.status == RUNNING:
            failed = session.exec(update(Job).where(Job.id == job_id, Job.status == RUNNING,
                                                    _last_sign_of_life() < limit)
                                  .values(status=FAILED, error=LOST_REASON, finished_at=utcnow()))
            session.commit()
            return LOST if failed.rowcount == 1 else STILL_RUNNING
    return FINISHED
