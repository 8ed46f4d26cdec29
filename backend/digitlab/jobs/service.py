"""Creating, reading and cancelling jobs; ownership goes through the job's project."""

from sqlmodel import Session, select

from digitlab.api.errors import conflict, not_found
from digitlab.auth.models import User
from digitlab.core.models import utcnow
from digitlab.jobs.models import CANCELLED, FINISHED_STATES, QUEUED, RUNNING, Job
from digitlab.jobs.runner import JobRunner
from digitlab.projects import service as projects_service
from digitlab.projects.models import Project


def enqueue(session: Session, runner: JobRunner, project: Project, kind: str, params: dict) -> Job:
    job = Job(project_id=project.id, owner_id=project.owner_id, kind=kind, params=params)
    session.add(job)
    session.commit()
    session.refresh(job)
    runner.submit(job.id)  # after the commit, so a worker always finds the row
    return job


def get_job(session: Session, user: User, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise not_found("Job")
    project = session.get(Project, job.project_id)
    if project is None or not projects_service.can_access(user, project):
        raise not_found("Job")
    return job


def list_jobs(session: Session, project: Project, kind: str | None = None) -> list[Job]:
    query = select(Job).where(Job.project_id == project.id)
    if kind:
        query = query.where(Job.kind == kind)
    return list(session.exec(query.order_by(Job.id.desc())))


def cancel(session: Session, runner: JobRunner, job: Job) -> Job:
    if job.status in FINISHED_STATES:
        raise conflict(f"This job has already finished ({job.status}).", "job_finished")
    if job.status == QUEUED:
        job.status, job.finished_at, job.message = CANCELLED, utcnow(), "Cancelled."
    job.cancel_requested = True
    session.add(job)
    session.commit()
    if job.status == RUNNING:
        runner.cancel(job.id)
    session.refresh(job)
    return job


def cancel_project_jobs(session: Session, runner: JobRunner, project_id: int) -> None:
    active = session.exec(select(Job).where(Job.project_id == project_id, Job.status.in_([QUEUED, RUNNING])))
    for job in list(active):
        cancel(session, runner, job)
