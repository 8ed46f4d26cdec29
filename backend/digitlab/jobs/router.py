from fastapi import APIRouter

from digitlab.api.deps import CurrentUser, Id, RunnerDep, SessionDep
from digitlab.jobs import service
from digitlab.jobs.schemas import JobPublic
from digitlab.projects import service as projects_service

router = APIRouter(prefix="/api", tags=["jobs"])


@router.get("/projects/{project_id}/jobs", response_model=list[JobPublic])
def list_jobs(project_id: Id, session: SessionDep, user: CurrentUser, kind: str | None = None):
    project = projects_service.get_project(session, user, project_id)
    return service.list_jobs(session, project, kind)


@router.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: Id, session: SessionDep, user: CurrentUser):
    """Status, progress (0..1), and when finished the result or the error."""
    return service.get_job(session, user, job_id)


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job_id: Id, session: SessionDep, runner: RunnerDep, user: CurrentUser):
    return service.cancel(session, runner, service.get_job(session, user, job_id))
