"""The embedded runner's warm extraction processes: each takes job after job, so an extraction that needs a fifth
of a second of work does not wait seconds for a process to start (the class of 30 waited a median 43 s).

Each slot is a thread of the service and one spawned process (worker.serve_warm): niced, memory-capped,
importing the extraction code once and never TensorFlow; started when the first extraction waits, then kept. The
thread claims the next extraction in the fair order (queue.fair_order) in the name of its process ("host:pid", as
Celery's children do), hands it the id and waits for its answer. When the process dies mid-job (killed, over its
memory cap), the thread ends that job with the reason (limits.exit_reason, else states.LOST_REASON) and starts a
new process; so does a process that retires after extraction_max_jobs jobs or when it grew beyond extraction_recycle_mb.
"""

import logging
import multiprocessing
import socket
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from sqlalchemy import Engine
from sqlmodel import col, select

from digitlab.core.config import Settings
from digitlab.core.db import unit_of_work
from digitlab.jobs import limits, states
from digitlab.jobs.queue import Lane, in_lane
from digitlab.jobs.tables import Job, JobStatus
from digitlab.jobs.worker import DONE, READY, serve_warm

log = logging.getLogger(__name__)

START_TIMEOUT = 120.0  # seconds a new warm process may take to import the extraction code on a busy machine
# A cancelled extraction stops at its next page; a page that takes longer than this is stopped with its process.
CANCEL_GRACE = 5.0
RETRY_PAUSE = 1.0


class WarmSlot:
    """One warm process and the thread that feeds it."""

    def __init__(self, pool: "WarmPool", index: int):
        self.pool = pool
        self.index = index
        self.process: BaseProcess | None = None
        self.connection: Connection | None = None
        self.job_id: int | None = None
        self.cancel_asked_at: float | None = None
        self.thread = threading.Thread(target=self._run, name=f"digitlab-warm-{index}", daemon=True)

    # --- the process ------------------------------------------------------------------------------------
    def _start_process(self) -> bool:
        receiver, sender = self.pool.context.Pipe(duplex=True)
        process = self.pool.context.Process(
            target=serve_warm, args=(sender, self.pool.settings.model_dump()), daemon=False
        )
        process.start()
        sender.close()  # the child holds the other end: its death closes the pipe here
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and not self.pool.stopping.is_set():
            try:
                if receiver.poll(0.2):
                    message = receiver.recv()
                    if message[0] == READY:
                        self.process, self.connection = process, receiver
                        return True
            except (EOFError, OSError):
                break
            if not process.is_alive():
                break
        log.warning("warm extraction process %s did not start (exit code %s)", process.pid, process.exitcode)
        receiver.close()
        stop_process(process)
        return False

    def _retire(self) -> None:
        """Let the process go (it exits when its pipe closes) and forget it."""
        if self.connection is not None:
            self.connection.close()
        if self.process is not None:
            self.process.join(timeout=10)
            if self.process.is_alive():
                stop_process(self.process)
            if self.process.pid is not None:
                limits.exit_reason(self.process.pid, self.process.exitcode)  # removes its cgroup and marker
        self.process = self.connection = None

    def _lost(self) -> None:
        """The process died: end its job (if it had one) with the reason, and forget the process."""
        process, job_id = self.process, self.job_id
        assert process is not None
        process.join(timeout=10)
        reason = limits.exit_reason(process.pid, process.exitcode) if process.pid else None
        if job_id is not None and states.end_abandoned_jobs(
            self.pool.engine, col(Job.id) == job_id, reason=reason or states.LOST_REASON
        ):
            log.warning(
                "job %s: its warm process exited with code %s before recording an end", job_id, process.exitcode
            )
        if self.connection is not None:
            self.connection.close()
        self.process = self.connection = None
        self.job_id = self.cancel_asked_at = None

    # --- the thread -------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self.pool.stopping.is_set():
            try:
                self._step()
            except Exception:
                log.exception("warm extraction slot %s: iteration failed", self.index)
                self.pool.stopping.wait(RETRY_PAUSE)

    def _step(self) -> None:
        if self.process is None or not self.process.is_alive():
            if self.process is not None:
                self._lost()
            if not self.pool.work_waiting():
                self.pool.wait_for_work()  # started on demand: a service that never extracts starts none
            elif not self._start_process():
                self.pool.stopping.wait(RETRY_PAUSE)
            return
        assert self.connection is not None and self.process.pid is not None
        job_id = states.claim_next(self.pool.engine, f"{socket.gethostname()}:{self.process.pid}", Lane.EXTRACTION)
        if job_id is None:
            self.pool.wait_for_work()
            return
        self.job_id, self.cancel_asked_at = job_id, None
        try:
            self.connection.send(job_id)
        except OSError:
            self._lost()
            return
        self._await_end(job_id)

    def _await_end(self, job_id: int) -> None:
        assert self.connection is not None and self.process is not None
        while True:
            try:
                if self.connection.poll(0.2):
                    kind, done_id, retiring = self.connection.recv()
                    if kind == DONE and done_id == job_id:
                        self.job_id = self.cancel_asked_at = None
                        if retiring:
                            self._retire()
                        return
            except (EOFError, OSError):
                self._lost()
                return
            if self.pool.stopping.is_set():
                return  # the pool's stop() ends the job
            asked = self.cancel_asked_at
            if asked is not None and time.monotonic() - asked > CANCEL_GRACE and self.process.is_alive():
                self.process.terminate()  # its job then ends as cancelled when the pipe closes


class WarmPool:
    def __init__(self, settings: Settings, engine: Engine, context: multiprocessing.context.SpawnContext):
        self.settings = settings
        self.engine = engine
        self.context = context
        self.stopping = threading.Event()
        self._work = threading.Condition()
        self._pending = False
        self.slots = [WarmSlot(self, index) for index in range(settings.extraction_concurrency)]

    def start(self) -> None:
        self.stopping.clear()
        for slot in self.slots:
            slot.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.notify()
        for slot in self.slots:
            slot.thread.join(timeout=15)
        interrupted = [slot.job_id for slot in self.slots if slot.job_id is not None]
        for slot in self.slots:
            if slot.job_id is not None and slot.process is not None:
                stop_process(slot.process)
            slot._retire()
        if interrupted:
            states.end_abandoned_jobs(self.engine, col(Job.id).in_(interrupted), reason=states.RESTART_REASON)

    def notify(self) -> None:
        """There may be work: wake the idle slots."""
        with self._work:
            self._pending = True
            self._work.notify_all()

    def work_waiting(self) -> bool:
        with unit_of_work(self.engine) as session:
            return bool(
                session.exec(
                    select(Job.id).where(Job.status == JobStatus.QUEUED, *in_lane(Lane.EXTRACTION)).limit(1)
                ).first()
            )

    def wait_for_work(self) -> None:
        with self._work:
            if not self._pending:
                self._work.wait(timeout=self.settings.job_poll_seconds)
            self._pending = False

    def live_jobs(self) -> list[int]:
        return [
            slot.job_id
            for slot in self.slots
            if slot.job_id is not None and slot.process is not None and slot.process.is_alive()
        ]

    def process_of(self, job_id: int) -> BaseProcess | None:
        for slot in self.slots:
            if slot.job_id == job_id:
                return slot.process
        return None

    def processes(self) -> list[BaseProcess]:
        return [slot.process for slot in self.slots if slot.process is not None]

    def cancel(self, job_id: int) -> None:
        """The job stops at its next progress report; if it has not within CANCEL_GRACE, its process is stopped."""
        for slot in self.slots:
            if slot.job_id == job_id and slot.cancel_asked_at is None:
                slot.cancel_asked_at = time.monotonic()


def stop_process(process: BaseProcess) -> None:
    """SIGTERM, and SIGKILL for a process that does not end within 5 s (hung, or stopped)."""
    process.terminate()
    process.join(timeout=5)
    if process.is_alive():
        process.kill()
        process.join(timeout=5)
