"""The job state machine's rules, on SQLite without a broker (fast; every backend relies on them)."""

from datetime import timedelta

import pytest
from sqlmodel import Session, col

from digitlab.auth.tables import User
from digitlab.core.clock import utcnow
from digitlab.core.db import unit_of_work
from digitlab.jobs import states
from digitlab.jobs.tables import Job, JobStatus
from digitlab.projects.tables import Project


def _job(engine, **values) -> int:
    with Session(engine) as session:
        user = session.get(User, 1)
        if user is None:
            user = User(username="u", password_hash="x")
            session.add(user)
            session.commit()
            session.add(Project(name="p", owner_id=user.id, labels=list("0123456789")))
            session.commit()
        job = Job(project_id=1, owner_id=user.id, kind="extraction", params={}, **values)
        session.add(job)
        session.commit()
        return job.id


def _get(engine, job_id: int) -> Job:
    with Session(engine) as session:
        return session.get(Job, job_id)


def test_a_job_moves_only_along_the_allowed_transitions(engine):
    job_id = _job(engine)
    with unit_of_work(engine) as session:
        # Not running yet: it cannot succeed.
        assert states.transition(session, JobStatus.SUCCEEDED, col(Job.id) == job_id) == 0
        assert states.transition(session, JobStatus.RUNNING, col(Job.id) == job_id, worker="a:1") == 1
    job = _get(engine, job_id)
    assert (job.status, job.worker) == ("running", "a:1") and job.started_at is not None
    assert states.mark_ended(engine, job_id, JobStatus.SUCCEEDED, result={"ok": True}, progress=1.0)
    # Finished is final: no later report, sweep or cancel changes it.
    assert not states.mark_ended(engine, job_id, JobStatus.FAILED, states.INTERNAL_REASON)
    assert states.fail_stale_jobs(engine, 0) == 0
    with unit_of_work(engine) as session:
        assert states.request_cancel(session, job_id) is None
    job = _get(engine, job_id)
    assert (job.status, job.error, job.result, job.cancel_requested) == ("succeeded", None, {"ok": True}, False)
    assert job.error_code is None
    assert job.finished_at is not None


def test_a_move_the_machine_does_not_have_is_a_programming_error(engine):
    with unit_of_work(engine) as session, pytest.raises(ValueError, match="cannot go from"):
        states.transition(session, JobStatus.SUCCEEDED, from_=[JobStatus.QUEUED])
    with unit_of_work(engine) as session, pytest.raises(KeyError):
        states.transition(session, JobStatus.QUEUED)


def test_cancel_requests(engine):
    queued, running = _job(engine), _job(engine, status="running", started_at=utcnow(), worker="a:1")
    with unit_of_work(engine) as session:
        assert states.request_cancel(session, queued) == JobStatus.CANCELLED  # at once: it never started
        assert states.request_cancel(session, running) == JobStatus.RUNNING  # its worker ends it
    cancelled = _get(engine, queued)
    assert (cancelled.status, cancelled.message, cancelled.error) == ("cancelled", states.CANCELLED_MESSAGE, None)
    assert cancelled.error_code == "job_cancelled"
    assert _get(engine, running).cancel_requested and _get(engine, running).status == "running"
    assert states.claim_next(engine, "b:2") is None  # a cancelled job is never claimed


def test_a_job_whose_process_ended_without_a_report_is_cancelled_if_asked_else_failed(engine):
    asked = _job(engine, status="running", started_at=utcnow(), worker="a:1", cancel_requested=True)
    crashed = _job(engine, status="running", started_at=utcnow(), worker="a:2")
    assert states.end_abandoned_jobs(engine, col(Job.id).in_([asked, crashed])) == 2
    assert (_get(engine, asked).status, _get(engine, asked).error) == ("cancelled", None)
    assert _get(engine, asked).error_code == "job_cancelled"
    failed = _get(engine, crashed)
    assert (failed.status, failed.error) == ("failed", states.LOST_REASON.sentence)
    assert (failed.error_code, failed.error_params) == ("job_worker_lost", None)


def test_a_queued_job_is_claimed_once(engine):
    job_id = _job(engine)
    assert states.claim_delivered(engine, job_id, "a:1", 60) == (states.CLAIMED, job_id)
    job = _get(engine, job_id)
    assert (job.status, job.worker) == ("running", "a:1") and job.started_at is not None
    # A duplicate delivery while the first worker is alive leaves the job to it.
    assert states.claim_delivered(engine, job_id, "b:2", 60) == (states.STILL_RUNNING, None)
    assert _get(engine, job_id).worker == "a:1"


def test_a_delivery_claims_the_next_waiting_job_whichever_its_message_names(engine):
    """The message is a turn: its worker runs the job the queue's order says, here the only one waiting."""
    running = _job(engine, status="running", started_at=utcnow(), worker="a:1", heartbeat_at=utcnow())
    waiting = _job(engine)
    assert states.claim_delivered(engine, running, "b:2", 60) == (states.CLAIMED, waiting)
    assert _get(engine, waiting).worker == "b:2"


def test_a_redelivered_job_whose_worker_went_silent_is_failed_with_a_reason(engine):
    old = utcnow() - timedelta(seconds=120)
    job_id = _job(engine, status="running", worker="a:1", started_at=old, heartbeat_at=old)
    assert states.claim_delivered(engine, job_id, "b:2", 60) == (states.LOST, None)
    job = _get(engine, job_id)
    assert (job.status, job.error, job.error_code) == ("failed", states.LOST_REASON.sentence, "job_worker_lost")
    assert job.finished_at is not None


def test_finished_and_missing_jobs_are_not_run(engine):
    for status in ("succeeded", "failed", "cancelled"):
        job_id = _job(engine, status=status)
        assert states.claim_delivered(engine, job_id, "a:1", 60) == (states.FINISHED, None)
        assert _get(engine, job_id).status == status
    assert states.claim_delivered(engine, 999, "a:1", 60) == (states.GONE, None)


def test_the_sweeper_fails_only_silent_jobs_not_excluded_ones(engine):
    old, now = utcnow() - timedelta(seconds=120), utcnow()
    silent = _job(engine, status="running", worker="a:1", started_at=old, heartbeat_at=old)
    mine = _job(engine, status="running", worker="a:2", started_at=old, heartbeat_at=old)
    alive = _job(engine, status="running", worker="a:3", started_at=old, heartbeat_at=now)
    queued = _job(engine)
    assert states.fail_stale_jobs(engine, 60, exclude=[mine]) == 1
    assert [_get(engine, i).status for i in (silent, mine, alive, queued)] == ["failed", "running", "running", "queued"]
    assert states.beat(engine, col(Job.id).in_([mine, queued])) == 1  # only running jobs have a heartbeat
    assert _get(engine, mine).heartbeat_at > old and _get(engine, queued).heartbeat_at is None
    assert states.claim_next(engine, "c:1") == queued
    assert states.claim_next(engine, "c:1") is None


def test_a_job_the_broker_cannot_take_fails_at_once_with_a_reason(engine, tmp_path):
    from digitlab.core.config import Settings
    from digitlab.jobs.celery_app import CeleryRunner

    settings = Settings(data_dir=tmp_path, job_backend="celery", celery_broker_url="redis://127.0.0.1:1/0")
    runner = CeleryRunner(settings, engine)
    job_id = _job(engine)
    runner.submit(job_id)  # nothing listens on port 1
    job = _get(engine, job_id)
    assert (job.status, job.error, job.error_code) == ("failed", states.UNQUEUED_REASON.sentence, "job_not_queued")
    runner.app.close()


def test_a_started_runner_sends_from_its_own_thread_and_still_fails_what_the_broker_cannot_take(engine, tmp_path):
    """Once the API runs, a click does not wait for the broker: jobs are sent after the answer, in order; a job
    the broker refuses still ends failed with the reason."""
    import time

    from digitlab.core.config import Settings
    from digitlab.jobs.celery_app import CeleryRunner

    settings = Settings(data_dir=tmp_path, job_backend="celery", celery_broker_url="redis://127.0.0.1:1/0")
    runner = CeleryRunner(settings, engine)
    runner.start()
    jobs = [_job(engine) for _ in range(3)]
    for job_id in jobs:
        runner.submit(job_id)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_get(engine, job_id).status == "queued" for job_id in jobs):
        time.sleep(0.05)
    runner.stop()
    for job_id in jobs:
        job = _get(engine, job_id)
        assert (job.status, job.error_code) == ("failed", "job_not_queued")


def test_a_worker_child_that_left_the_pool_list_while_it_still_runs_keeps_its_job(engine, tmp_path):
    """Seen once in a lesson: a training's child left the prefork pool's list while it was about to record its
    job's success, and its supervisor ended the job as lost. A child is gone only when its process has ended."""
    import socket
    import subprocess
    import time
    from types import SimpleNamespace

    from digitlab.core.config import Settings
    from digitlab.jobs.celery_app import WorkerSupervisor

    settings = Settings(
        data_dir=tmp_path, job_backend="celery", database_url=str(engine.url), job_heartbeat_seconds=0.1
    )
    child = subprocess.Popen(["sleep", "120"])
    listed = [SimpleNamespace(pid=child.pid, exitcode=None)]
    job_id = _job(engine, status="running", worker=f"{socket.gethostname()}:{child.pid}", started_at=utcnow())
    supervisor = WorkerSupervisor(settings, SimpleNamespace(_pool=SimpleNamespace(_pool=listed)))

    def beaten_after(moment) -> bool:
        job = _get(engine, job_id)
        return job.heartbeat_at is not None and job.heartbeat_at > moment

    def wait(done, what: str) -> None:
        deadline = time.monotonic() + 60
        while not done():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    supervisor.start()
    try:
        wait(lambda: beaten_after(utcnow() - timedelta(days=1)), "the supervisor beats for its child's job")
        listed.clear()  # the pool let go of the child, which still runs
        left = utcnow()
        wait(lambda: beaten_after(left), "the supervisor goes on beating for the child that still runs")
        assert _get(engine, job_id).status == "running"
        child.kill()
        child.wait()
        wait(lambda: _get(engine, job_id).status != "running", "the job of the ended child ends")
        job = _get(engine, job_id)
        assert (job.status, job.error_code) == ("failed", "job_worker_lost")
    finally:
        supervisor.heartbeat.stop()
        supervisor.engine.dispose()
        if child.poll() is None:
            child.kill()
            child.wait()
