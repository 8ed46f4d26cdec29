"""The shared claim/sweep rules every runner relies on (SQLite, no broker: fast, not marked scaleout)."""

from datetime import timedelta

import pytest
from digitlab.auth.models import User
from digitlab.core.db import make_engine, migrate
from digitlab.core.models import utcnow
from digitlab.jobs import claims
from digitlab.jobs.models import Job
from digitlab.projects.models import Project
from sqlmodel import Session


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


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


def test_a_queued_job_is_claimed_once(engine):
    job_id = _job(engine)
    assert claims.claim_delivered(engine, job_id, "a:1", 60) == claims.CLAIMED
    job = _get(engine, job_id)
    assert (job.status, job.worker) == ("running", "a:1") and job.started_at is not None
    # A duplicate delivery while the first worker is alive leaves the job to it.
    assert claims.claim_delivered(engine, job_id, "b:2", 60) == claims.STILL_RUNNING
    assert _get(engine, job_id).worker == "a:1"


def test_a_redelivered_job_whose_worker_went_silent_is_failed_with_a_reason(engine):
    old = utcnow() - timedelta(seconds=120)
    job_id = _job(engine, status="running", worker="a:1", started_at=old, heartbeat_at=old)
    assert claims.claim_delivered(engine, job_id, "b:2", 60) == claims.LOST
    job = _get(engine, job_id)
    assert (job.status, job.error) == ("failed", claims.LOST_REASON) and job.finished_at is not None


def test_finished_and_missing_jobs_are_not_run(engine):
    for status in ("succeeded", "failed", "cancelled"):
        job_id = _job(engine, status=status)
        assert claims.claim_delivered(engine, job_id, "a:1", 60) == claims.FINISHED
        assert _get(engine, job_id).status == status
    assert claims.claim_delivered(engine, 999, "a:1", 60) == claims.GONE


def test_the_sweeper_fails_only_silent_jobs_not_excluded_ones(engine):
    old, now = utcnow() - timedelta(seconds=120), utcnow()
    silent = _job(engine, status="running", worker="a:1", started_at=old, heartbeat_at=old)
    mine = _job(engine, status="running", worker="a:2", started_at=old, heartbeat_at=old)
    alive = _job(engine, status="running", worker="a:3", started_at=old, heartbeat_at=now)
    queued = _job(engine)
    assert claims.fail_stale_jobs(engine, 60, exclude=[mine]) == 1
    assert [_get(engine, i).status for i in (silent, mine, alive, queued)] == ["failed", "running", "running", "queued"]
    assert claims.claim_next(engine, "c:1") == queued
    assert claims.claim_next(engine, "c:1") is None


def test_a_job_the_broker_cannot_take_fails_at_once_with_a_reason(engine, tmp_path):
    from digitlab.core.config import Settings
    from digitlab.jobs.celery_app import UNQUEUED_REASON, CeleryRunner

    settings = Settings(data_dir=tmp_path, job_backend="celery", celery_broker_url="redis://127.0.0.1:1/0")
    runner = CeleryRunner(settings, engine)
    job_id = _job(engine)
    runner.submit(job_id)  # nothing listens on port 1
    job = _get(engine, job_id)
    assert (job.status, job.error) == ("failed", UNQUEUED_REASON)
    runner.app.close()
