"""The distributed job backend: Celery over Redis (DIGITLAB_JOB_BACKEND=celery).

The API process only sends `digitlab.run_job(job_id)` after committing the job row, and sweeps jobs whose
worker went silent. `digitlab worker` processes (on any host sharing the database and the files) receive
the id, claim the row (queued -> running, the same conditional update as the embedded runner) and run
`digitlab.jobs.worker.run_job` in a prefork child that serves one job and exits (TensorFlow is imported only
there, never in the worker's parent process, which forks the children).

Delivery guarantees: acks_late + reject_on_worker_lost put a job's message back on the queue when the
process running it dies; the redelivered message finds the row still "running" and, once its heartbeat is
stale, fails it with a reason instead of running it again (see claims.claim_delivered). Whatever happens
to the messages, the API's sweeper fails every job silent for longer than job_stale_seconds.
"""

import logging
import socket
import threading

from celery import Celery, Task
from celery.signals import worker_process_init
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from digitlab.core.config import Settings, get_settings
from digitlab.core.db import make_engine
from digitlab.core.models import utcnow
from digitlab.jobs import claims
from digitlab.jobs.models import FAILED, QUEUED, Job
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.worker import run_job, worker_name

log = logging.getLogger(__name__)

TASK_NAME = "digitlab.run_job"
_preload_thread: threading.Thread | None = None  # set in a worker child when job_prewarm is on
UNQUEUED_REASON = "The job queue could not be reached. Please try again in a moment."


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
        # Each worker process takes one job at a time and a fresh process serves every job.
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=1,
        broker_connection_retry_on_startup=True,
        # Publishing must not hang a request for long when the broker is down.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5,
                                   "interval_max": 1},
    )
    app.digitlab_settings = settings

    @app.task(name=TASK_NAME, bind=True)
    def run_job_task(task: Task, job_id: int) -> str:
        return handle_delivery(task.app.digitlab_settings, job_id,
                               redelivered=bool((task.request.delivery_info or {}).get("redelivered")))

    return app


def handle_delivery(settings: Settings, job_id: int, redelivered: bool = False) -> str:
    """What a worker does with a delivered job id: claim it and run it here, or explain why not."""
    engine = make_engine(settings.resolved_database_url)
    try:
        outcome = claims.claim_delivered(engine, job_id, worker_name(), settings.job_stale_seconds)
    finally:
        engine.dispose()
    if outcome == claims.CLAIMED:
        log.info("job %s claimed by %s", job_id, worker_name())
        if _preload_thread is not None:
            # Two threads importing the same big module graph can trip Python's import deadlock detection:
            # let the preload finish (it has had the idle time before this job to get ahead).
            _preload_thread.join()
        run_job(job_id, settings)
    elif outcome == claims.LOST:
        log.warning("job %s: its previous worker was lost; marked failed", job_id)
    else:
        log.info("job %s not run here (%s%s)", job_id, outcome, ", redelivered" if redelivered else "")
    return outcome


class CeleryRunner(JobRunner):
    """The API side: send job ids to the workers; sweep jobs whose worker went silent."""

    def __init__(self, settings: Settings, engine: Engine):
        self.settings = settings
        self.engine = engine
        self.app = make_celery(settings)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._sweep_loop, name="digitlab-job-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.app.close()

    def submit(self, job_id: int) -> None:
        try:
            self._send(job_id)
        except Exception:  # noqa: BLE001 - broker down: the job must not wait in "queued" forever
            log.exception("could not send job %s to the broker", job_id)
            with Session(self.engine) as session:
                session.exec(update(Job).where(Job.id == job_id, Job.status == QUEUED)
                             .values(status=FAILED, error=UNQUEUED_REASON, finished_at=utcnow()))
                session.commit()

    def cancel(self, job_id: int) -> None:
        """Nothing to send: cancel_requested is committed, and the job's worker reads it at its next progress
        report (several times a second in a training) and ends the job as cancelled."""

    def _send(self, job_id: int) -> None:
        self.app.send_task(TASK_NAME, args=[job_id], queue=self.settings.celery_queue)

    def _resubmit_queued(self) -> None:
        # Messages are lost if the broker lost its data: send the jobs queued at start again. A duplicate is
        # harmless: its delivery finds the row already claimed (or finished) and runs nothing.
        with Session(self.engine) as session:
            queued = session.exec(select(Job.id).where(Job.status == QUEUED).order_by(Job.id)).all()
        for job_id in queued:
            self._send(job_id)

    def _sweep_loop(self) -> None:
        interval = max(0.2, min(self.settings.job_poll_seconds, self.settings.job_stale_seconds / 2))
        resubmitted = False
        while True:
            if not resubmitted:  # in this thread, so a broker that is down does not delay the start
                try:
                    self._resubmit_queued()
                    resubmitted = True
                except Exception:  # noqa: BLE001 - broker or database down: try again next round
                    log.warning("could not resubmit the queued jobs yet", exc_info=True)
            if self._stopping.wait(interval):
                return
            try:
                failed = claims.fail_stale_jobs(self.engine, self.settings.job_stale_seconds)
                if failed:
                    log.warning("%s job(s) lost their worker and were marked failed", failed)
            except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
                log.exception("stale job sweep failed")


def _prewarm_child(**_kwargs) -> None:
    """In each fresh worker child: import the job code (TensorFlow included) in the background while the
    child waits for its job, so a training does not start with seconds of imports."""
    global _preload_thread
    from digitlab.jobs import registry

    _preload_thread = threading.Thread(target=_preload_quietly, args=(registry.preload,), name="digitlab-preload",
                                       daemon=True)
    _preload_thread.start()


def _preload_quietly(preload) -> None:  # noqa: ANN001
    try:
        preload()
    except Exception:  # noqa: BLE001 - the job imports what it needs itself and reports any real error
        log.warning("preloading the job code failed", exc_info=True)


def run_worker(settings: Settings | None = None, concurrency: int | None = None, name: str | None = None,
               loglevel: str = "INFO") -> None:
    settings = settings or get_settings()
    app = make_celery(settings)
    if settings.job_prewarm:
        worker_process_init.connect(_prewarm_child, weak=False)
    argv = ["worker", "--pool=prefork", f"--concurrency={concurrency or settings.job_concurrency}",
            "--max-tasks-per-child=1", "--prefetch-multiplier=1", f"--queues={settings.celery_queue}",
            f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]
    if name:
        argv.append(f"--hostname={name}")
    app.worker_main(argv)


def ping_worker(settings: Settings | None = None, name: str | None = None, timeout: float = 5.0) -> bool:
    """True if the worker node `name` (default celery@<this host>) answers a broadcast ping."""
    settings = settings or get_settings()
    node = (name or "celery@%h").replace("%h", socket.gethostname())
    app = make_celery(settings)
    try:
        return bool(app.control.ping(destination=[node], timeout=timeout, limit=1))
    except Exception:  # noqa: BLE001 - broker unreachable: not healthy
        return False
    finally:
        app.close()
