"""Runs one job in the current process: the entry point of every worker process."""

import logging
import os
import socket
import threading
import traceback
from contextlib import contextmanager

from sqlalchemy import update
from sqlmodel import Session

from digitlab.core.config import Settings
from digitlab.core.db import make_engine
from digitlab.core.models import utcnow
from digitlab.core.storage import FileStorage
from digitlab.jobs import registry
from digitlab.jobs.claims import mark_ended
from digitlab.jobs.context import JobCancelled, JobContext
from digitlab.jobs.models import CANCELLED, FAILED, RUNNING, SUCCEEDED, Job

log = logging.getLogger(__name__)


class JobError(Exception):
    """A failure with a message meant for the student (anything else is reported generically)."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def heartbeat(engine, job_id: int, interval: float):  # noqa: ANN001
    """Keep writing heartbeat_at while the job runs, so runners can tell a live job from a lost one."""
    stop = threading.Event()

    def beat() -> None:
        while True:
            try:
                with Session(engine) as session:
                    session.exec(update(Job).where(Job.id == job_id, Job.status == RUNNING)
                                 .values(heartbeat_at=utcnow()))
                    session.commit()
            except Exception:  # noqa: BLE001 - a missed beat is retried; the job itself goes on
                log.warning("heartbeat of job %s failed", job_id, exc_info=True)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def run_job(job_id: int, settings: Settings) -> None:
    """Run one job in this process (a fresh one per job: the local runner's child or a Celery child)."""
    if settings.job_nice and hasattr(os, "nice"):
        os.nice(settings.job_nice)  # this process serves one job and exits, so the change never leaks
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            job = session.get(Job, job_id)
            if job is None or job.status != RUNNING:
                return
            kind, project_id, params = job.kind, job.project_id, dict(job.params)
        context = JobContext(job_id=job_id, project_id=project_id, params=params, engine=engine,
                             storage=FileStorage(settings.files_dir), settings=settings)
        try:
            with heartbeat(engine, job_id, settings.job_heartbeat_seconds):
                result = registry.resolve(kind)(context)
        except JobCancelled:
            mark_ended(engine, job_id, CANCELLED, message="Cancelled.")
        except JobError as exc:
            mark_ended(engine, job_id, FAILED, str(exc))
        except Exception as exc:  # noqa: BLE001 - a job must end in a recorded state, whatever happened
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            mark_ended(engine, job_id, FAILED, f"Internal error: {type(exc).__name__}: {exc}")
        else:
            mark_ended(engine, job_id, SUCCEEDED, progress=1.0, result=result)
    finally:
        engine.dispose()


def run_job_in_child(job_id: int, settings_values: dict) -> None:
    """Target of a spawned process: rebuild the settings the parent used, then run the job."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(process)d %(levelname)s %(message)s")
    run_job(job_id, Settings(**settings_values))


def wait_for_job_in_child(connection, settings_values: dict) -> None:  # noqa: ANN001
    """Target of the spare process: import every job's code now, then run the one job it is handed."""
    registry.preload()
    try:
        job_id = connection.recv()
    except EOFError:  # the service stopped before it needed this spare
        return
    finally:
        connection.close()
    run_job_in_child(job_id, settings_values)
