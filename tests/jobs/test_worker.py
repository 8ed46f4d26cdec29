"""How a worker records the end of a job, whatever the job's code did (run in this process, no runner)."""

import logging

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from digitlab.auth.tables import User
from digitlab.core.config import Settings
from digitlab.core.db import make_engine, migrate
from digitlab.core.errors import invalid
from digitlab.jobs import registry, states, worker
from digitlab.jobs.context import JobCancelled
from digitlab.jobs.tables import Job
from digitlab.projects.tables import Project


@pytest.fixture
def settings(tmp_path) -> Settings:
    # job_nice 0: the job runs in this very process, which must not end up niced.
    settings = Settings(data_dir=tmp_path, job_nice=0)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    with Session(engine) as session:
        user = User(username="u", password_hash="x")
        session.add(user)
        session.commit()
        session.add(Project(name="p", owner_id=user.id, labels=list("0123456789")))
        session.commit()
    engine.dispose()
    return settings


def run(settings: Settings, monkeypatch, job_code) -> Job:
    """Claim a new job whose code is `job_code`, run it here, and return its row as it ended."""
    monkeypatch.setattr(registry, "resolve", lambda kind: job_code)
    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            job = Job(project_id=1, owner_id=1, kind="extraction", params={})
            session.add(job)
            session.commit()
            job_id = job.id
        assert states.claim_job(engine, job_id, worker.worker_name())
        worker.run_job(job_id, settings)
        with Session(engine) as session:
            return session.get(Job, job_id)
    finally:
        engine.dispose()


def fails_with(exc: BaseException):
    def job_code(ctx) -> dict:
        ctx.progress(0.5, "half-way", force=True)
        raise exc

    return job_code


def test_a_job_that_returns_succeeds_with_its_result(settings, monkeypatch):
    job = run(settings, monkeypatch, lambda ctx: {"pages": 3})
    assert (job.status, job.result, job.progress, job.error) == ("succeeded", {"pages": 3}, 1.0, None)


def test_a_failure_meant_for_the_student_is_shown_as_it_is(settings, monkeypatch):
    job = run(settings, monkeypatch, fails_with(worker.JobError("No page could be extracted: no grid found.")))
    assert (job.status, job.error) == ("failed", "No page could be extracted: no grid found.")
    assert job.error_code == "job_failed"
    job = run(settings, monkeypatch, fails_with(invalid("The dataset is too small to train on.", "dataset_too_small")))
    assert (job.status, job.error) == ("failed", "The dataset is too small to train on.")
    # A domain error keeps its own code and its numbers (the web app says it in the student's language).
    assert (job.error_code, job.error_params) == ("dataset_too_small", None)
    job = run(settings, monkeypatch, fails_with(worker.JobError("Too big.", "training_memory_limit", limit_mb=300)))
    assert (job.error_code, job.error_params) == ("training_memory_limit", {"limit_mb": 300})


@pytest.mark.parametrize(
    "exc, sentence",
    [
        (KeyError("training_id"), states.INTERNAL_REASON),
        (OperationalError("INSERT INTO cells ...", {}, Exception("database or disk is full")), states.DISK_FULL_REASON),
        (OSError(28, "No space left on device"), states.DISK_FULL_REASON),
    ],
)
def test_an_unexpected_failure_shows_a_sentence_and_logs_the_trace(settings, monkeypatch, caplog, exc, sentence):
    with caplog.at_level(logging.ERROR, logger="digitlab.jobs.worker"):
        job = run(settings, monkeypatch, fails_with(exc))
    assert (job.status, job.error, job.error_code) == ("failed", sentence.sentence, sentence.code)
    assert type(exc).__name__ not in job.error and "Internal error" not in job.error
    [record] = [r for r in caplog.records if r.name == "digitlab.jobs.worker"]
    assert f"job {job.id} (extraction) failed" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[1] is exc  # the trace is in the log


def test_a_job_that_saw_its_cancel_request_ends_cancelled(settings, monkeypatch):
    job = run(settings, monkeypatch, fails_with(JobCancelled()))
    assert (job.status, job.message, job.error) == ("cancelled", states.CANCELLED_MESSAGE, None)
    assert job.error_code == states.CANCELLED_REASON.code
