"""The job runner interface, and the embedded backend: jobs in the database, run in worker processes.

A distributed backend (Celery) implements the same four methods; the services only ever call
`submit(job_id)` after committing the job row, and `cancel(job_id)` after recording the request. Both
backends change a job's status only through digitlab.jobs.states, and take the next job in the order of
digitlab.jobs.queue.fair_order.
"""

import logging
import multiprocessing
import threading
from abc import ABC, abstractmethod
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from sqlalchemy import Engine
from sqlmodel import col

from digitlab.core.config import Settings
from digitlab.jobs import limits, states
from digitlab.jobs.heartbeat import Heartbeat
from digitlab.jobs.queue import Lane
from digitlab.jobs.tables import Job, JobStatus
from digitlab.jobs.warm import WarmPool, stop_process
from digitlab.jobs.worker import run_job_in_child, wait_for_job_in_child, worker_name

log = logging.getLogger(__name__)


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
    """Two lanes (digitlab.jobs.queue.Lane), each with its own slots, so a class's trainings never hold up its
    extractions:

    - extractions: `extraction_concurrency` warm processes that take job after job (warm.py);
    - trainings (every other kind): up to `job_concurrency` at once, each in a newly spawned process.
      Spawned, not forked: TensorFlow is not fork-safe, and a fresh process per job returns all of a
      training's memory to the system when it ends. With `job_prewarm`, one spare process has already
      imported the job code (TensorFlow included) and waits for the next job, so a job does not wait
      seconds for imports; it is still a process that has never run a job before.

    This process supervises its job processes: it writes their heartbeats (heartbeat.py) and ends the job
    of a process that exited without recording an end.
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
        self._heartbeat = Heartbeat(settings.job_heartbeat_seconds, self._beat, "digitlab-job-heartbeat")
        self.warm = WarmPool(settings, engine, self._context)

    # --- interface -------------------------------------------------------------------------------
    def start(self) -> None:
        recovered = states.recover_interrupted_jobs(self.engine)
        if recovered:
            log.warning("%s job(s) interrupted by a restart were ended", recovered)
        self._stopping.clear()
        self._heartbeat.start()
        self.warm.start()
        self._thread = threading.Thread(target=self._loop, name="digitlab-job-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.warm.stop()
        self._heartbeat.stop()
        with self._lock:
            processes = list(self._processes.items())
            self._processes.clear()
        for _, process in processes:
            stop_process(process)
        if processes:
            states.end_abandoned_jobs(
                self.engine, col(Job.id).in_([job_id for job_id, _ in processes]), reason=states.RESTART_REASON
            )
        if self._standby is not None:
            process, connection = self._standby
            self._standby = None
            connection.close()  # the spare process exits when its pipe closes
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()

    def submit(self, job_id: int) -> None:
        self._wake.set()
        self.warm.notify()

    def cancel(self, job_id: int) -> None:
        with self._lock:
            process = self._processes.get(job_id)
        if process is not None and process.is_alive():
            process.terminate()  # its job then ends as cancelled when the process is reaped
        self.warm.cancel(job_id)  # a warm process is kept: its job stops at its next progress report
        self._wake.set()

    def job_process(self, job_id: int) -> BaseProcess | None:
        """The process running the job here (None: not running here)."""
        with self._lock:
            process = self._processes.get(job_id)
        return process or self.warm.process_of(job_id)

    def job_processes(self) -> list[BaseProcess]:
        """Every process this runner started that may still run: trainings', the spare, the warm ones."""
        with self._lock:
            processes = list(self._processes.values())
        spare = [self._standby[0]] if self._standby is not None else []
        return processes + spare + self.warm.processes()

    # --- internals -------------------------------------------------------------------------------
    def _live_jobs(self) -> list[int]:
        with self._lock:
            trainings = [job_id for job_id, process in self._processes.items() if process.is_alive()]
        return trainings + self.warm.live_jobs()

    def _beat(self) -> None:
        if live := self._live_jobs():
            states.beat(self.engine, col(Job.id).in_(live))

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._reap_finished()
                # Our own jobs are alive as long as their processes are; others' go stale when silent.
                states.fail_stale_jobs(self.engine, self.settings.job_stale_seconds, exclude=self._live_jobs())
                self._start_queued()
                self._keep_standby()
            except Exception:
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
            # A job that ended normally has recorded its own end; one still running was killed (a cancel
            # stops the process) or crashed.
            # [issue 8, H3] a training killed by its memory cap says so (and its cgroup is removed): jobs/limits.py
            exit_reason = limits.exit_reason(process.pid, process.exitcode) if process.pid else None
            reason = exit_reason or states.LOST_REASON
            if states.end_abandoned_jobs(self.engine, col(Job.id) == job_id, reason=reason):
                log.warning("job %s: its process exited with code %s before recording an end", job_id, process.exitcode)

    def _start_queued(self) -> None:
        while True:
            with self._lock:
                if len(self._processes) >= self.settings.job_concurrency:
                    return
            job_id = states.claim_next(self.engine, worker_name(), Lane.TRAINING)
            if job_id is None:
                return
            try:
                process = self._hand_to_standby(job_id) or self._spawn(run_job_in_child, job_id)
            except Exception:
                log.exception("could not start a worker process for job %s", job_id)
                states.mark_ended(self.engine, job_id, JobStatus.FAILED, states.NOT_STARTED_REASON)
                continue
            with self._lock:
                self._processes[job_id] = process

    def _spawn(self, target, *args) -> BaseProcess:
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


def create_runner(settings: Settings, engine: Engine) -> JobRunner:
    if settings.job_backend == "local":
        return LocalProcessRunner(settings, engine)
    if settings.job_backend == "celery":
        from digitlab.jobs.celery_app import CeleryRunner  # celery is imported only when it is used

        return CeleryRunner(settings, engine)
    raise ValueError(f"unknown job backend {settings.job_backend!r} (DIGITLAB_JOB_BACKEND)")
