from typing import Annotated

from fastapi import APIRouter, Query

from digitlab.api.deps import JobDep, ReadableJobDep, ReadableProjectDep, RunnerDep, SessionDep
from digitlab.api.paging import PageDep
from digitlab.core.text import SafeStr
from digitlab.jobs import service
from digitlab.jobs.schemas import JobPublic

router = APIRouter(prefix="/api", tags=["jobs"])


@router.get("/projects/{project_id}/jobs", response_model=list[JobPublic])
def list_jobs(
    project: ReadableProjectDep,
    session: SessionDep,
    page: PageDep,
    kind: Annotated[SafeStr | None, Query(max_length=32)] = None,
):
    return service.public_list(session, service.list_jobs(session, project, kind, page))


@router.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(job: ReadableJobDep, session: SessionDep):
    """Status, progress (0..1), and when finished the result or the error. While it waits: its place in the
    queue and when it should start and end (`queue`)."""
    return service.to_public(session, job)


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job: JobDep, session: SessionDep, runner: RunnerDep):
    return service.to_public(session, service.cancel(session, runner, job))
