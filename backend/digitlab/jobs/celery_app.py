"""The distributed job backend: Celery over Redis (DIGITLAB_JOB_BACKEND=celery).

The API process only sends `digitlab.run_job(job_id, lane)` after committing the job row, to its lane's queue
(queue.Lane: `<celery_queue>` for trainings, `<celery_queue>.extraction` for extractions), and sweeps jobs whose
worker went silent. `digitlab worker` (on any host sharing the database and the files) runs one Celery node per
lane, each a prefork pool:

- training: children that serve one job and exit (max-tasks-per-child=1; TensorFlow is imported only there,
  never in the node's parent process, which forks the children);
- extraction: warm children that never import TensorFlow and take job after job, memory-capped like the
  embedded runner's (extraction_memory_limit_mb), replaced after extraction_max_jobs jobs or when they grew
  beyond extraction_recycle_mb.

A delivered message is a turn, not an order: the child claims the next job of its lane in the fair order of
digitlab.jobs.queue (the one both backends obey), so the database decides which job runs, not the broker
(states.claim_delivered). Each node's parent supervises its children (WorkerSupervisor): it writes their jobs'
heartbeats and ends the job of a child that died.

Delivery guarantees: acks_late + reject_on_worker_lost put a message back on the queue when the process
running it dies; the redelivered message claims the next waiting job if any, else finds its own job already
ended by the supervisor, or still "running" and silent, and ends it with a reason; only queued jobs are ever
claimed, so nothing runs twice. Whatever happens to the messages, the API's sweeper ends every job silent for
longer than job_stale_seconds.
"""

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_ready
from sqlalchemy import Engine
from sqlmodel import col, select

from digitlab.core.config import Settings, get_settings
from digitlab.core.db import make_engine, unit_of_work
from digitlab.jobs import limits, states
from digitlab.jobs.heartbeat import Heartbeat
from digitlab.jobs.queue import Lane, lane_of
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.tables import Job, JobStatus
from digitlab.jobs.worker import prepare_process, prepare_warm_process, run_job, worker_name

log = logging.getLogger(__name__)

TASK_NAME = "digitlab.run_job"
_preload_thread: threading.Thread | None = None  # set in a worker child when job_prewarm is on
_child_engine: Engine | None = None  # a warm extraction child's, kept from job to job


def queue_name(settings: Settings, lane: Lane) -> str:
    return settings.celery_queue if lane == Lane.TRAINING else f"{settings.celery_queue}.{lane}"


def node_name(name: str | None, lane: Lane) -> str:
    """The Celery node of a lane: `w1@%h` -> `w1-training@%h` (default `celery-<lane>@%h`)."""
    base, _, host = (name or "celery@%h").partition("@")
    return f"{base}-{lane}@{host or '%h'}"


def make_celery(settings: Settings) -> Celery:
    app = Celery("digitlab", broker=settings.celery_broker_url)
    app.conf.update(
        task_default_queue=settings.celery_queue,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # A message is acknowledged when the job has ended, and goes back on the queue if the process
        # running it dies: a lost worker never silently drops a job.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # Each worker process takes one job at a time (each lane's node sets how long its children live).
        worker_prefetch_multiplier=1,
        # A child on a busy machine may take a while to say it is up (its niced start, a training's imports).
        worker_proc_alive_timeout=60,
        broker_connection_retry_on_startup=True,
        # Publishing must not hang a request for long when the broker is down.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1},
    )
    app.digitlab_settings = settings

    @app.task(name=TASK_NAME, bind=True)
    def run_job_task(task: Task, job_id: int, lane: str | None = None) -> str:
        return handle_delivery(
            task.app.digitlab_settings,
            job_id,
            Lane(lane) if lane else None,
            redelivered=bool((task.request.delivery_info or {}).get("redelivered")),
        )

    return app


def handle_delivery(settings: Settings, job_id: int, lane: Lane | None = None, redelivered: bool = False) -> str:
    """What a worker child does with a delivered message: claim the next job of its lane in the fair order and
    run it here, or explain why nothing ran (states.claim_delivered)."""
    warm = lane == Lane.EXTRACTION
    engine = _engine_for(settings, warm)
    try:
        outcome, claimed = states.claim_delivered(engine, job_id, worker_name(), settings.job_stale_seconds, lane)
        if claimed is not None:
            # This process runs one job at a time: a job still running under its name was claimed by an earlier
            # process with the same pid, which is gone.
            states.end_abandoned_jobs(engine, col(Job.worker) == worker_name(), col(Job.id) != claimed)
            log.info("job %s claimed by %s (message of job %s)", claimed, worker_name(), job_id)
            if _preload_thread is not None:
                # Two threads importing the same big module graph can trip Python's import deadlock detection:
                # let the preload finish (it has had the idle time before this job to get ahead).
                _preload_thread.join()
            run_job(claimed, settings, engine)
        elif outcome == states.LOST:
            log.warning("job %s: its previous worker was lost; marked failed", job_id)
        else:
            log.info("job %s not run here (%s%s)", job_id, outcome, ", redelivered" if redelivered else "")
    finally:
        if not warm:
            engine.dispose()
    return outcome


def _engine_for(settings: Settings, warm: bool) -> Engine:
    """A warm child keeps one engine for all its jobs; a training's child serves one job."""
    global _child_engine
    if not warm:
        return make_engine(settings.resolved_database_url)
    if _child_engine is None:
        _child_engine = make_engine(settings.resolved_database_url)
    return _child_engine


class CeleryRunner(JobRunner):
    """The API side: send job ids to the workers; sweep jobs whose worker went silent.

    Once started, jobs go to the broker from a thread of their own, in the order they were committed: a send
    took 2-180 ms (median 25) in a class's busy minute, time a student's click waited for nothing it needed (the
    job is committed as queued and its status is read from the database). A job the broker cannot take fails,
    as before, a moment later instead of within the request."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.app = make_celery(settings)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._outbox: queue.SimpleQueue[int | None] = queue.SimpleQueue()  # job ids to send; None: stop
        self._sender: threading.Thread | None = None

    def start(self) -> None:
        recovered = states.recover_interrupted_jobs(self.engine)
        if recovered:
            log.warning("%s job(s) interrupted by a restart were ended", recovered)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._sweep_loop, name="digitlab-job-sweeper", daemon=True)
        self._thread.start()
        self._sender = threading.Thread(target=self._send_loop, name="digitlab-job-sender", daemon=True)
        self._sender.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._sender is not None:
            self._outbox.put(None)  # after the jobs already handed over: they are sent first
            self._sender.join(timeout=10)
            self._sender = None
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.app.close()

    def submit(self, job_id: int) -> None:
        if self._sender is not None and self._sender.is_alive():
            self._outbox.put(job_id)
        else:  # not started (a command, a test): at once
            self._send_or_fail(job_id)

    def _send_loop(self) -> None:
        while (job_id := self._outbox.get()) is not None:
            self._send_or_fail(job_id)

    def _send_or_fail(self, job_id: int) -> None:
        try:
            self._send(job_id)
        except Exception:
            log.exception("could not send job %s to the broker", job_id)
            states.fail_unqueued(self.engine, job_id)

    def cancel(self, job_id: int) -> None:
        """Nothing to send: cancel_requested is committed, and the job's worker reads it at its next progress
        report (several times a second in a training, every page of an extraction) and ends the job as
        cancelled."""

    def _send(self, job_id: int, kind: str | None = None) -> None:
        if kind is None:
            with unit_of_work(self.engine) as session:
                job = session.get(Job, job_id)
                if job is None:
                    return
                kind = job.kind
        lane = lane_of(kind)
        self.app.send_task(TASK_NAME, args=[job_id, lane.value], queue=queue_name(self.settings, lane))

    def _resubmit_queued(self) -> None:
        # Messages are lost if the broker lost its data: send the jobs queued at start again. A duplicate is
        # harmless: a delivery with nothing to claim runs nothing.
        with unit_of_work(self.engine) as session:
            queued = session.exec(
                select(Job.id, Job.kind).where(Job.status == JobStatus.QUEUED).order_by(col(Job.id))
            ).all()
        for job_id, kind in queued:
            if job_id is not None:
                self._send(job_id, kind)

    def _sweep_loop(self) -> None:
        interval = max(0.2, min(self.settings.job_poll_seconds, self.settings.job_stale_seconds / 2))
        resubmitted = False
        while True:
            if not resubmitted:  # in this thread, so a broker that is down does not delay the start
                try:
                    self._resubmit_queued()
                    resubmitted = True
                except Exception:
                    log.warning("could not resubmit the queued jobs yet", exc_info=True)
            if self._stopping.wait(interval):
                return
            try:
                ended = states.fail_stale_jobs(self.engine, self.settings.job_stale_seconds)
                if ended:
                    log.warning("%s job(s) lost their worker and were ended", ended)
            except Exception:
                log.exception("stale job sweep failed")


class WorkerSupervisor:
    """In a worker's parent process: the pool's child processes run the jobs, the parent watches them. Every
    job_heartbeat_seconds it writes the heartbeat of the jobs its live children claimed, and ends at once the
    job of a child that died without recording an end. At start it ends the jobs that this worker's children
    were running before a crash or restart (claimed by processes of this host that no longer exist)."""

    def __init__(self, settings: Settings, pool: Any):
        self.engine = make_engine(settings.resolved_database_url)
        self.pool = pool
        self.host = socket.gethostname()
        self._children: dict[int, Any] = {}  # pid -> billiard process, as of the last tick
        self.heartbeat = Heartbeat(
            settings.job_heartbeat_seconds, self._tick, "digitlab-worker-heartbeat", guard_forks=True
        )
        # A forked child never uses the parent's connections, and must not close them.
        os.register_at_fork(after_in_child=lambda: self.engine.dispose(close=False))

    def start(self) -> None:
        recovered = states.recover_interrupted_jobs(self.engine)
        if recovered:
            log.warning("%s job(s) interrupted by a restart of this worker were ended", recovered)
        self.heartbeat.start()

    def _tick(self) -> None:
        # The prefork pool's processes. One that left the pool's list has usually ended, but once (a class's
        # lesson, a training's child) it left the list while it still ran and was about to record its job's
        # success: it is gone only when its process has ended.
        if self.pool._pool is None:
            return  # the pool has stopped (the worker is shutting down): its processes have ended
        listed = {process.pid: process for process in list(self.pool._pool._pool)}
        unlisted = {pid: process for pid, process in self._children.items() if pid not in listed}
        children = listed | {pid: process for pid, process in unlisted.items() if limits.running(pid)}
        gone = [process for pid, process in unlisted.items() if pid not in children]
        self._children = children
        for process in gone:
            # [issue 8] a training killed by its memory cap says so, as with the local runner: jobs/limits.py
            reason = limits.exit_reason(process.pid, process.exitcode) or states.LOST_REASON
            if states.end_abandoned_jobs(self.engine, col(Job.worker) == self._name(process.pid), reason=reason):
                log.warning(
                    "worker process %s exited with code %s before recording the end of its job",
                    process.pid,
                    process.exitcode,
                )
        if children:
            states.beat(self.engine, col(Job.worker).in_([self._name(pid) for pid in children]))

    def _name(self, pid: int) -> str:
        return f"{self.host}:{pid}"  # as worker_name() says it in the child


def _prepare_training_child(settings: Settings) -> None:
    """In each fresh training child: niced; with job_prewarm, the job code (TensorFlow included) imported in the
    background while the child waits for its job, so a training does not start with seconds of imports."""
    global _preload_thread
    from digitlab.jobs import registry

    prepare_process(settings.job_nice)
    if settings.job_prewarm:
        _preload_thread = threading.Thread(
            target=_preload_quietly, args=(registry.preload,), name="digitlab-preload", daemon=True
        )
        _preload_thread.start()


def _preload_quietly(preload) -> None:
    try:
        preload()
    except Exception:
        log.warning("preloading the job code failed", exc_info=True)


def run_worker(
    settings: Settings | None = None,
    concurrency: int | None = None,
    name: str | None = None,
    loglevel: str = "INFO",
    lane: Lane | None = None,
) -> int:
    """Run the Celery node of `lane` in this process; without a lane, one node per lane (run_lanes)."""
    settings = settings or get_settings()
    if lane is None:
        return run_lanes(concurrency, name, loglevel)
    app = make_celery(settings)
    if lane == Lane.EXTRACTION:
        from digitlab.jobs import registry

        registry.preload_warm()  # in the node's parent: its forked children start with the code loaded
        # Once per warm child, before its first job: niced, memory-capped.
        worker_process_init.connect(lambda **_kwargs: prepare_warm_process(settings, embedded=False), weak=False)
        pool = [
            f"--concurrency={settings.extraction_concurrency}",
            f"--max-tasks-per-child={settings.extraction_max_jobs}",
            f"--max-memory-per-child={settings.extraction_recycle_mb * 1024}",  # KiB, checked after each job
        ]
    else:
        worker_process_init.connect(lambda **_kwargs: _prepare_training_child(settings), weak=False)
        pool = [f"--concurrency={concurrency or settings.job_concurrency}", "--max-tasks-per-child=1"]

    def supervise(sender: Any, **_kwargs: Any) -> None:  # sender: the consumer, once its pool runs
        WorkerSupervisor(settings, sender.pool).start()

    worker_ready.connect(supervise, weak=False)
    argv = [
        "worker",
        "--pool=prefork",
        *pool,
        "--prefetch-multiplier=1",
        f"--queues={queue_name(settings, lane)}",
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
        f"--hostname={node_name(name, lane)}",
    ]
    app.worker_main(argv)
    return 0


def run_lanes(concurrency: int | None, name: str | None, loglevel: str) -> int:
    """`digitlab worker` without --lane: one child process per lane (`digitlab worker --lane L`), in this
    process's process group. A stop signal is passed on to them; when one ends, the other is stopped too and its
    exit code is this process's (a supervisor such as Docker then restarts the whole worker)."""
    options = ["--loglevel", loglevel] + (["--name", name] if name else [])
    options += ["--concurrency", str(concurrency)] if concurrency else []
    children = [
        subprocess.Popen([sys.executable, "-m", "digitlab.cli", "worker", "--lane", lane.value, *options])
        for lane in Lane
    ]

    def pass_on(signum: int, _frame: Any) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, pass_on)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    ended = next(child for child in children if child.returncode is not None)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=150)  # a warm shutdown lets running jobs finish
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return ended.returncode or 0


def ping_worker(settings: Settings | None = None, name: str | None = None, timeout: float = 5.0) -> bool:
    """True if both lane nodes of the worker `name` (default celery@<this host>) answer a broadcast ping."""
    settings = settings or get_settings()
    nodes = [node_name(name, lane).replace("%h", socket.gethostname()) for lane in Lane]
    app = make_celery(settings)
    try:
        answers = app.control.ping(destination=nodes, timeout=timeout, limit=len(nodes))
        return {node for answer in answers for node in answer} >= set(nodes)
    except Exception:  # noqa: BLE001 - broker unreachable: not healthy
        return False
    finally:
        app.close()
