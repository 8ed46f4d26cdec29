"""Creating, reading and cancelling jobs; ownership goes through the job's project."""

from collections.abc import Callable
from functools import partial

from sqlmodel import Session, col, select

from digitlab.auth.tables import User
from digitlab.core.clock import utcnow
from digitlab.core.db import after_commit, stored_id
from digitlab.core.errors import conflict, not_found
from digitlab.core.paging import FIRST_PAGE, Page
from digitlab.jobs import queue, states
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.schemas import JobPublic, QueuePlace
from digitlab.jobs.tables import Job, JobStatus
from digitlab.projects import service as projects_service
from digitlab.projects.tables import Project


def enqueue(session: Session, runner: JobRunner, project: Project, kind: str, params: dict) -> Job:
    job = Job(project_id=stored_id(project), owner_id=project.owner_id, kind=kind, params=params)
    session.add(job)
    session.flush()
    submit_after_commit(session, runner, job)
    return job


def submit_after_commit(session: Session, runner: JobRunner, job: Job) -> None:
    """Jobs go to the runner by id once their row is committed, so a worker always finds it."""
    after_commit(session, partial(runner.submit, stored_id(job)))


def get_job(session: Session, user: User, job_id: int) -> Job:
    """The job, for the owner of its project (who may cancel it); 404 for everyone else."""
    return _job_if(session, job_id, lambda project: projects_service.can_access(user, project))


def get_readable_job(session: Session, user: User, job_id: int) -> Job:
    """The job, for whoever may read its project (projects_service.can_read); 404 for everyone else."""
    return _job_if(session, job_id, lambda project: projects_service.can_read(session, user, project))


def _job_if(session: Session, job_id: int, allowed: Callable[[Project], bool]) -> Job:
    job = session.get(Job, job_id)
    project = session.get(Project, job.project_id) if job is not None else None
    if job is None or project is None or not allowed(project):
        raise not_found("Job")
    return job


def list_jobs(session: Session, project: Project, kind: str | None = None, page: Page = FIRST_PAGE) -> list[Job]:
    query = select(Job).where(Job.project_id == project.id)
    if kind:
        query = query.where(Job.kind == kind)
    return list(session.exec(page.apply(query.order_by(col(Job.id).desc()))))


def cancel(session: Session, runner: JobRunner, job: Job) -> Job:
    """A queued job is cancelled at once; a running one ends as cancelled when its worker sees the request."""
    finished = not _request_cancel(session, runner, stored_id(job))
    session.refresh(job)
    if finished:
        raise conflict(f"This job has already finished ({job.status}).", "job_finished")
    return job


def cancel_project_jobs(session: Session, runner: JobRunner, project_id: int) -> None:
    active = session.exec(
        select(Job.id).where(Job.project_id == project_id, col(Job.status).in_([JobStatus.QUEUED, JobStatus.RUNNING]))
    ).all()
    for job_id in active:
        if job_id is not None:
            _request_cancel(session, runner, job_id)


def _request_cancel(session: Session, runner: JobRunner, job_id: int) -> bool:
    """Record the request (states.request_cancel); False if the job had already finished."""
    status = states.request_cancel(session, job_id)
    if status == JobStatus.RUNNING:
        after_commit(session, partial(runner.cancel, job_id))  # the worker then finds the request committed
    return status is not None


# --- what a waiting student sees --------------------------------------------------------------------------
def queue_place(session: Session, job: Job) -> QueuePlace | None:
    """Where a queued job stands and when it should start and end (digitlab.jobs.queue); None unless queued."""
    found = queue.place(session, job)
    if found is None:
        return None
    now = utcnow()
    return QueuePlace(
        position=found.position,
        jobs_ahead=found.jobs_ahead,
        estimated_start=found.estimated_start,
        estimated_end=found.estimated_end,
        seconds_to_start=round(max(0.0, (found.estimated_start - now).total_seconds()), 1),
        seconds_to_end=round(max(0.0, (found.estimated_end - now).total_seconds()), 1),
    )


def to_public(session: Session, job: Job) -> JobPublic:
    return JobPublic.model_validate(job, from_attributes=True).model_copy(update={"queue": queue_place(session, job)})


def public_list(session: Session, jobs: list[Job]) -> list[JobPublic]:
    return [to_public(session, job) for job in jobs]
