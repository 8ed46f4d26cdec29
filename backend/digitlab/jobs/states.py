"""The job state machine. Every change of a job's status, whichever backend runs it, goes through `transition`.

    queued ── claimed by a worker ──> running ── the job returned, failed or saw its cancel request ──>
       │                                 │          succeeded | failed | cancelled
       │                                 └── its process ended without saying how (killed, crashed, silent
       │                                     for longer than the stale limit, the service stopped) ──>
       │                                     cancelled if a cancel was requested, else failed with a reason
       └── cancelled before it started, or it never reached a worker ──> cancelled | failed

Each move is one conditional UPDATE on the current status, so of two processes that try (two runners, two
Celery workers, a worker and a sweeper, a worker and a cancel request) only one wins: the one whose UPDATE
matched the row. A finished job never changes again. The functions here run in the caller's unit of work
(`session`) or open their own (`engine`).
"""

import os
import socket
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, update
from sqlmodel import Session, col, select

from digitlab.core.clock import utcnow
from digitlab.core.db import unit_of_work
from digitlab.jobs import queue
from digitlab.jobs.reason import Reason
from digitlab.jobs.tables import Job, JobStatus

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)

# Each state, and the states a job may reach it from.
REACHABLE_FROM: dict[JobStatus, frozenset[JobStatus]] = {
    RUNNING: frozenset({QUEUED}),
    SUCCEEDED: frozenset({RUNNING}),
    FAILED: frozenset({QUEUED, RUNNING}),
    CANCELLED: frozenset({QUEUED, RUNNING}),
}

# What a student reads when a job ended without finishing its work (the details go to the log).
CANCELLED_REASON = Reason("job_cancelled", "Cancelled.")  # its sentence is the job's message, not an error
CANCELLED_MESSAGE = CANCELLED_REASON.sentence
LOST_REASON = Reason("job_worker_lost", "The worker running this job stopped unexpectedly. Please start it again.")
RESTART_REASON = Reason("job_interrupted", "The service restarted while this job was running. Please start it again.")
UNQUEUED_REASON = Reason("job_not_queued", "The job queue could not be reached. Please try again in a moment.")
NOT_STARTED_REASON = Reason(
    "job_not_started", "The server could not start this job just now. Please try again in a moment."
)
INTERNAL_REASON = Reason(
    "job_internal_error",
    "Something went wrong on the server while running this job. Please start it again; if it "
    "happens again, tell your teacher.",
)
DISK_FULL_REASON = Reason(
    "job_disk_full", "The server ran out of storage space while running this job. Please tell your teacher."
)

# What a worker found when it was handed a job (see claim_delivered).
CLAIMED, GONE, FINISHED, STILL_RUNNING, LOST = "claimed", "gone", "finished", "still_running", "lost"


def transition(
    session: Session,
    to: JobStatus,
    *where: ColumnElement[bool],
    from_: Iterable[JobStatus] | None = None,
    reason: Reason | None = None,
    **values: Any,
) -> int:
    """Move the jobs that match `where` to `to`, only from the states it may be reached from (or the subset
    `from_`), recording when it started or finished; `reason`: why it failed (error, error_code, error_params)
    or was cancelled (its message and error_code); `values` are further columns (message, result, progress).
    Returns how many jobs moved: 1 means this caller won the job."""
    if reason is not None:
        values |= {"message": reason.sentence, "error_code": reason.code} if to == CANCELLED else reason.columns()
    allowed = REACHABLE_FROM[to]
    sources = allowed if from_ is None else frozenset(from_)
    if not sources <= allowed:
        raise ValueError(f"a job cannot go from {sorted(sources - allowed)} to {to}")
    now = utcnow()
    stamps = {"started_at": now, "heartbeat_at": None} if to == RUNNING else {"finished_at": now}
    result = session.exec(
        update(Job)
        .where(col(Job.status).in_(sources), *where)
        .values(status=to, **stamps, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# --- claiming and ending (workers) ------------------------------------------------------------------------
def claim_job(engine: Engine, job_id: int, worker: str) -> bool:
    """queued -> running, recording the claiming process ("host:pid"). True if this caller won."""
    with unit_of_work(engine) as session:
        return transition(session, RUNNING, col(Job.id) == job_id, worker=worker) == 1


def claim_next(engine: Engine, worker: str, lane: queue.Lane | None = None) -> int | None:
    """Claim the next queued job of the lane (None: of any lane) in the fair order (queue.fair_order), which
    both backends obey: the queue is the jobs table itself. A job another process claimed first is skipped."""
    for _ in range(3):  # another claimer may win each of the first few; then look at the queue again
        with unit_of_work(engine) as session:
            candidates = [waiting.job_id for waiting in queue.fair_order(session, lane)[:CLAIM_CANDIDATES]]
        if not candidates:
            return None
        for job_id in candidates:
            if claim_job(engine, job_id, worker):
                return job_id
    return None


CLAIM_CANDIDATES = 5


def mark_ended(engine: Engine, job_id: int, status: JobStatus, reason: Reason | None = None, **values: Any) -> bool:
    """The worker's own report: running -> succeeded | failed (with its reason) | cancelled (CANCELLED_REASON).
    Never overwrites an end another process recorded first (a sweeper that gave up on it). `values`: the result
    and final progress."""
    with unit_of_work(engine) as session:
        return transition(session, status, col(Job.id) == job_id, from_=[RUNNING], reason=reason, **values) == 1


def end_abandoned(session: Session, *where: ColumnElement[bool], reason: Reason = LOST_REASON) -> int:
    """Running jobs whose process ended without reporting: cancelled if a cancel was requested (the local
    runner cancels by stopping the process), else failed with `reason`."""
    cancelled = transition(
        session, CANCELLED, col(Job.cancel_requested).is_(True), *where, from_=[RUNNING], reason=CANCELLED_REASON
    )
    failed = transition(session, FAILED, *where, from_=[RUNNING], reason=reason)
    return cancelled + failed


def end_abandoned_jobs(engine: Engine, *where: ColumnElement[bool], reason: Reason = LOST_REASON) -> int:
    with unit_of_work(engine) as session:
        return end_abandoned(session, *where, reason=reason)


def fail_unqueued(engine: Engine, job_id: int) -> bool:
    """queued -> failed: the job could not be handed to any worker (the broker is down)."""
    with unit_of_work(engine) as session:
        return transition(session, FAILED, col(Job.id) == job_id, from_=[QUEUED], reason=UNQUEUED_REASON) == 1


# --- cancel requests (the API) ---------------------------------------------------------------------------
def request_cancel(session: Session, job_id: int) -> JobStatus | None:
    """Record a cancel request in the caller's unit of work: a queued job is cancelled at once; a running one is
    flagged, and its worker ends it at its next progress report (or its runner stops the process). Returns the
    status after the request, None if the job had already finished."""
    flagged = session.exec(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.status).in_([QUEUED, RUNNING]))
        .values(cancel_requested=True)
        .execution_options(synchronize_session=False)
    )
    if not flagged.rowcount:
        return None
    if transition(session, CANCELLED, col(Job.id) == job_id, from_=[QUEUED], reason=CANCELLED_REASON):
        return CANCELLED
    return RUNNING


# --- signs of life, lost workers, restarts ----------------------------------------------------------------
def beat(engine: Engine, *where: ColumnElement[bool]) -> int:
    """Record that the processes running these jobs are alive (written by their supervisor, see heartbeat.py)."""
    with unit_of_work(engine) as session:
        result = session.exec(
            update(Job)
            .where(col(Job.status) == RUNNING, *where)
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0


def _silent_for(stale_seconds: float) -> ColumnElement[bool]:
    """The job's last sign of life (heartbeat, else its claim, else its creation) is older than the limit."""
    last_sign_of_life = func.coalesce(Job.heartbeat_at, Job.started_at, Job.created_at)
    return last_sign_of_life < utcnow() - timedelta(seconds=stale_seconds)


def fail_stale_jobs(engine: Engine, stale_seconds: float, exclude: Iterable[int] = ()) -> int:
    """End every running job whose worker has been silent longer than stale_seconds (killed, machine gone).
    `exclude`: jobs the caller knows are alive (its own child processes)."""
    where = [_silent_for(stale_seconds)]
    if exclude := list(exclude):
        where.append(col(Job.id).not_in(exclude))
    return end_abandoned_jobs(engine, *where)


def claim_delivered(
    engine: Engine, job_id: int, worker: str, stale_seconds: float, lane: queue.Lane | None = None
) -> tuple[str, int | None]:
    """A distributed worker was handed a message naming job_id (first delivery or a redelivery after a lost
    worker). A message is a turn, not an order: the worker claims the next job of its lane in the fair order
    (queue.fair_order), which is job_id or another; the broker's order never decides. Each queued job sent one
    message, and each delivery claims at most one job, so there are always at least as many messages as waiting
    jobs. Returns (outcome, the job to run):

    - a job was claimed -> (CLAIMED, its id), run it;
    - nothing waits; then what of job_id:
      - running and silent for longer than the stale limit: its worker died (the message came back because the
        worker was lost) -> ended as lost, not run again (a job that killed its worker, e.g. out of memory,
        would otherwise kill worker after worker) -> LOST;
      - running with signs of life: another worker still runs it (a duplicate delivery) -> STILL_RUNNING;
        if that worker is in fact gone, its supervisor or the sweeper ends the job;
      - finished -> FINISHED; no such row (project deleted) -> GONE.
    """
    claimed = claim_next(engine, worker, lane)
    if claimed is not None:
        return CLAIMED, claimed
    with unit_of_work(engine) as session:
        job = session.get(Job, job_id)
        if job is None:
            return GONE, None
        if job.status != RUNNING:
            return FINISHED, None
        ended = end_abandoned(session, col(Job.id) == job_id, _silent_for(stale_seconds))
        return (LOST if ended else STILL_RUNNING), None


def recover_interrupted_jobs(engine: Engine) -> int:
    """Restart recovery: end the running jobs claimed by a process of this host that no longer exists (this
    service or worker before a crash or restart), and rows that say running but were never started.

    Jobs claimed by a live process (a second instance on the same data, another worker) are left alone; if that
    process dies, its supervisor or the stale sweep ends them."""
    host = socket.gethostname()
    with unit_of_work(engine) as session:
        running = session.exec(select(Job.id, Job.worker, Job.started_at).where(Job.status == RUNNING)).all()
        orphaned = [
            job_id
            for job_id, worker, started_at in running
            if started_at is None or _claimed_by_dead_process_here(worker, host)
        ]
        if not orphaned:
            return 0
        return end_abandoned(session, col(Job.id).in_(orphaned), reason=RESTART_REASON)


def _claimed_by_dead_process_here(worker: str | None, host: str) -> bool:
    claimed_host, _, pid = (worker or "").rpartition(":")
    if claimed_host != host or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True  # our own pid reused (e.g. pid 1 in a container): that process was a previous life
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
