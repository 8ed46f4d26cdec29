"""Runs jobs in the current process: the entry points of every worker process.

A training's process runs one job and exits (`run_job_in_child`, `wait_for_job_in_child`); a warm extraction
process (`serve_warm`) takes job after job from its runner until it is told to stop or decides to be replaced.
"""

import errno
import logging
import os
import socket
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy import Engine

from digitlab.core.config import Settings
from digitlab.core.db import make_engine, unit_of_work
from digitlab.core.errors import DomainError, ErrorKind
from digitlab.core.storage import FileStorage
from digitlab.jobs import limits, registry, states
from digitlab.jobs.context import JobCancelled, JobContext
from digitlab.jobs.reason import Reason
from digitlab.jobs.tables import Job, JobStatus

log = logging.getLogger(__name__)


class JobError(DomainError):
    """A job failed for a reason the student can act on: its code, sentence and `extra` numbers become the job's
    error_code, error and error_params (any DomainError raised in a job does the same). Any other exception is
    logged with its trace, and the student reads a plain sentence (see failure_reason)."""

    def __init__(self, detail: str, code: str = "job_failed", **extra: Any) -> None:
        super().__init__(ErrorKind.INVALID, detail, code, **extra)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def prepare_process(nice: int) -> None:
    """Once per worker process, before its first job: it yields the CPU to the API by `nice` (os.nice adds up,
    so never twice in one process)."""
    if nice and hasattr(os, "nice"):
        os.nice(nice)  # students' clicks get the CPU before a job does


@dataclass(frozen=True)
class JobOutcome:
    status: JobStatus | None  # None: the job was not (or no longer) this process's to run
    out_of_memory: bool = False  # the process should be replaced: its memory may be left fragmented


def run_job(job_id: int, settings: Settings, engine: Engine | None = None) -> JobOutcome:
    """Run one claimed job in this process and record how it ended. Its heartbeats come from the supervising
    process (see heartbeat.py). `engine`: a warm process's own, kept from job to job."""
    own_engine = engine is None
    engine = engine or make_engine(settings.resolved_database_url)
    try:
        with unit_of_work(engine) as session:
            job = session.get(Job, job_id)
            if job is None or job.status != JobStatus.RUNNING:
                return JobOutcome(None)
            kind, project_id, params = job.kind, job.project_id, dict(job.params)
        context = JobContext(
            job_id=job_id,
            project_id=project_id,
            params=params,
            engine=engine,
            storage=FileStorage(settings.files_dir),
            settings=settings,
        )
        try:
            result = registry.resolve(kind)(context)
        except JobCancelled:
            states.mark_ended(engine, job_id, JobStatus.CANCELLED, states.CANCELLED_REASON)
            return JobOutcome(JobStatus.CANCELLED)
        except DomainError as exc:
            states.mark_ended(engine, job_id, JobStatus.FAILED, domain_reason(exc))
            return JobOutcome(JobStatus.FAILED)
        except Exception as exc:
            out_of_memory = _out_of_memory(exc)
            if out_of_memory and limits.current_limit() is not None:
                log.warning("job %s (%s) ran out of this process's memory cap", job_id, kind)
            else:
                log.exception("job %s (%s) failed", job_id, kind)
            states.mark_ended(engine, job_id, JobStatus.FAILED, failure_reason(exc))
            return JobOutcome(JobStatus.FAILED, out_of_memory)
        states.mark_ended(engine, job_id, JobStatus.SUCCEEDED, progress=1.0, result=result)
        return JobOutcome(JobStatus.SUCCEEDED)
    finally:
        if own_engine:
            engine.dispose()


def _out_of_memory(exc: BaseException) -> bool:
    """Python's MemoryError, or OpenCV's allocation failure (cv2.error, matched by its text)."""
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "insufficient memory" in text or "failed to allocate" in text


def domain_reason(exc: DomainError) -> Reason:
    """A domain error raised in a job: its own code and sentence, and its extra fields that are numbers or words
    (the params its `error.<code>` text may fill in)."""
    params = {
        name: value for name, value in exc.extra.items() if value is None or isinstance(value, str | int | float | bool)
    }
    return Reason(exc.code, exc.detail, params or None)


def failure_reason(exc: BaseException) -> Reason:
    """What a student reads about an unexpected failure: a reason, never the exception's text."""
    text = str(exc).lower()
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "disk is full" in text or "no space left" in text:
        return states.DISK_FULL_REASON
    capped = limits.current_limit()
    if _out_of_memory(exc) and capped is not None:
        return limits.memory_limit_reason(capped.limit_mb, capped.purpose)
    return states.INTERNAL_REASON


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d %(levelname)s %(message)s")


def run_job_in_child(job_id: int, settings_values: dict, niced: bool = False) -> None:
    """Target of a spawned training process: rebuild the settings the parent used, then run the one job."""
    _log_to_stderr()
    settings = Settings(**settings_values)
    if not niced:
        prepare_process(settings.job_nice)
    run_job(job_id, settings)


def wait_for_job_in_child(connection, settings_values: dict) -> None:
    """Target of the spare process: import every job's code now (niced: the API keeps the CPU it needs), then
    run the one job it is handed."""
    prepare_process(Settings(**settings_values).job_nice)
    registry.preload()
    try:
        job_id = connection.recv()
    except EOFError:  # the service stopped before it needed this spare
        return
    finally:
        connection.close()
    run_job_in_child(job_id, settings_values, niced=True)


# --- warm extraction processes -----------------------------------------------------------------------------
READY, DONE = "ready", "done"  # what a warm process tells its runner


EMBEDDED_EXTRACTION_NICE = 10  # the service's own warm processes share its machine (Settings.extraction_nice)


def prepare_warm_process(settings: Settings, embedded: bool) -> limits.MemoryLimit:
    """Once, in a warm extraction process (`embedded`: the service's own, else a Celery worker's): niced,
    memory-capped, the extraction code imported (never TensorFlow)."""
    nice = settings.extraction_nice
    prepare_process(nice if nice is not None else EMBEDDED_EXTRACTION_NICE if embedded else 0)
    applied = limits.apply_memory_limit(settings.extraction_memory_limit_mb, purpose=limits.EXTRACTION)
    registry.preload_warm()
    return applied


def should_retire(settings: Settings, served: int, outcome: JobOutcome) -> bool:
    """A warm process is replaced after extraction_max_jobs jobs, when a job left it holding more than
    extraction_recycle_mb (memory that grew stays with a process), or after it ran out of memory."""
    return (
        outcome.out_of_memory
        or served >= settings.extraction_max_jobs
        or limits.resident_mb() > settings.extraction_recycle_mb
    )


def serve_warm(connection: Connection, settings_values: dict) -> None:
    """Target of a warm extraction process of the local runner: prepare once, say READY, then run each job id
    it is handed and answer (DONE, job id, retiring) until its pipe closes or it retires."""
    _log_to_stderr()
    settings = Settings(**settings_values)
    prepare_warm_process(settings, embedded=True)
    engine = make_engine(settings.resolved_database_url)
    served = 0
    try:
        connection.send((READY, os.getpid()))
        while True:
            try:
                job_id = connection.recv()
            except EOFError:  # the runner stopped
                return
            outcome = run_job(job_id, settings, engine)
            served += 1
            retiring = should_retire(settings, served, outcome)
            connection.send((DONE, job_id, retiring))
            if retiring:
                return
    finally:
        engine.dispose()
        connection.close()
