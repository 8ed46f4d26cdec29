"""The job runner interface, and the embedded backend: jobs in the database, each run in a fresh process.

A distributed backend (Celery) implements the same four methods; the services only ever call
`submit(job_id)` after committing the job row, and `cancel(job_id)` after recording the request.
"""

import logging
import multiprocessing
import os
import socket
import threading
from abc import ABC, abstractmethod
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from digitlab.core.config import Settings
from digitlab.core.models import utcnow
from digitlab.jobs import claims
from digitlab.jobs.claims import LOST_REASON  # noqa: F401 - part of this module's API
from digitlab.jobs.models import CANCELLED, FAILED, RUNNING, Job
from digitlab.jobs.worker import run_job_in_child, wait_for_job_in_child, worker_name

log = logging.getLogger(__name__)

RESTART_REASON = "The service restarted while this job was running. Please start it again."


class JobRunner(ABC):
    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def submit(self, job_id: int) -> None:
        """The job row is committed as queued; run it when a slot is free."""

    @abstractmethod
    def cancel(self, job_id: int) -> None:
        """cancel_requested is committed; stop the job if it is running here."""


class LocalProcessRunner(JobRunner):
    """Runs up to `job_concurrency` jobs at once, each in a newly spawned process.

    Spawned, not forked: TensorFlow is not fork-safe, and a fresh process per job returns all of a
    training's memory to the system when it ends. With `job_prewarm`, one spare process has already
    imported the job code (TensorFlow included) and waits for the next job, so a job does not wait
    seconds for imports; it is still a process that has never run a job before.
    """

    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self._context = multiprocessing.get_context("spawn")
        self._processes: dict[int, BaseProcess] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._standby: tuple[BaseProcess, Connection] | None = None

    # --- interface -------------------------------------------------------------------------------
    def start(self) -> None:
        self.recover_interrupted_jobs()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="digitlab-job-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            processes = list(self._processes.items())
            self._processes.clear()
        for job_id, process in processes:
            process.terminate()
            process.join(timeout=5)
            claims.mark_ended(self.engine, job_id, FAILED, RESTART_REASON)
        if self._standby is not None:
            process, connection = self._standby
            self._standby = None
            connection.close()  # the spare process exits when its pipe closes
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()

    def submit(self, job_id: int) -> None:
        self._wake.set()

    def cancel(self, job_id: int) -> None:
        with self._lock:
            process = self._processes.get(job_id)
        if process is not None and process.is_alive():
            process.terminate()
        self._wake.set()

    # --- internals -------------------------------------------------------------------------------
    def recover_interrupted_jobs(self) -> int:
        """Fail the jobs a previous process of this service on this host was running: they have no worker.

        Jobs claimed by another live process (a second instance on the same data) are left alone; if that
        instance dies, its jobs go stale and `_fail_stale_jobs` ends them.
        """
        host = socket.gethostname()
        with Session(self.engine) as session:
            running = session.exec(select(Job.id, Job.worker, Job.started_at).where(Job.status == RUNNING)).all()
            # A claim always records started_at: a running row without it was never really started.
            orphaned = [job_id for job_id, worker, started_at in running
                        if started_at is None or _claimed_by_dead_process_here(worker, host)]
            if orphaned:
                session.exec(update(Job).where(Job.id.in_(orphaned), Job.status == RUNNING)
                             .values(status=FAILED, error=RESTART_REASON, finished_at=utcnow()))
                session.commit()
        return len(orphaned)

    def _fail_stale_jobs(self) -> None:
        with self._lock:
            mine = list(self._processes)
        claims.fail_stale_jobs(self.engine, self.settings.job_stale_seconds, exclude=mine)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._reap_finished()
                self._fail_stale_jobs()
                self._start_queued()
                self._keep_standby()
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                log.exception("job runner iteration failed")
            self._wake.wait(timeout=self.settings.job_poll_seconds)
            self._wake.clear()

    def _reap_finished(self) -> None:
        with self._lock:
            ended = [(job_id, p) for job_id, p in self._processes.items() if not p.is_alive()]
            for job_id, _ in ended:
                del self._processes[job_id]
        for job_id, process in ended:
            process.join()
            # A job that ended normally has recorded its own final state; one still "running" was
            # killed (cancel) or crashed.
            with Session(self.engine) as session:
                job = session.get(Job, job_id)
                cancelled = job is not None and job.cancel_requested
            if cancelled:
                claims.mark_ended(self.engine, job_id, CANCELLED, None, message="Cancelled.")
            else:
                claims.mark_ended(self.engine, job_id, FAILED,
                                 f"The worker process stopped unexpectedly (exit code {process.exitcode}).")

    def _start_queued(self) -> None:
        while True:
            with self._lock:
                if len(self._processes) >= self.settings.job_concurrency:
                    return
            job_id = self._claim_next()
            if job_id is None:
                return
            try:
                process = self._hand_to_standby(job_id) or self._spawn(run_job_in_child, job_id)
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory or process limit
                claims.mark_ended(self.engine, job_id, FAILED, f"Could not start a worker process: {exc}")
                continue
            with self._lock:
                self._processes[job_id] = process
        self._keep_standby()

    def _spawn(self, target, *args) -> BaseProcess:  # noqa: ANN001
        process = self._context.Process(target=target, args=(*args, self.settings.model_dump()), daemon=False)
        process.start()
        return process

    def _hand_to_standby(self, job_id: int) -> BaseProcess | None:
        if self._standby is None:
            return None
        process, connection = self._standby
        self._standby = None
        try:
            connection.send(job_id)
        except OSError:  # the spare died; a fresh spawn takes the job
            process.join(timeout=1)
            return None
        finally:
            connection.close()
        return process

    def _keep_standby(self) -> None:
        if not self.settings.job_prewarm or self._stopping.is_set():
            return
        if self._standby is not None and self._standby[0].is_alive():
            return
        with self._lock:
            if self._processes:
                # Importing TensorFlow takes seconds of CPU: prepare the next spare while no job needs it.
                return
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._spawn(wait_for_job_in_child, receiver)
        receiver.close()
        self._standby = (process, sender)

    def _claim_next(self) -> int | None:
        return claims.claim_next(self.engine, worker_name())

    def running_job_ids(self) -> list[int]:
        with self._lock:
            return list(self._processes)


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


def create_runner(settings: Settings, engine: Engine) -> JobRunner:
    if settings.job_backend == "local":
        return LocalProcessRunner(settings, engine)
    if settings.job_backend == "celery":
        from digitlab.jobs.celery_app import CeleryRunner  # celery is imported only when it is used

        return CeleryRunner(settings, engine)
    raise ValueError(f"unknown job backend {settings.job_backend!r} (DIGITLAB_JOB_BACKEND)")
