from fastapi import APIRouter, status

from digitlab.api.deps import CurrentUser, Id, RunnerDep, SessionDep
from digitlab.extraction import service
from digitlab.extraction.schemas import ExtractionCreate
from digitlab.jobs.schemas import JobPublic
from digitlab.projects import service as projects_service

router = APIRouter(prefix="/api/projects/{project_id}/extractions", tags=["extraction"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic)
def start_extraction(project_id: Id, body: ExtractionCreate, session: SessionDep, runner: RunnerDep,
                     user: CurrentUser):
    """Start a job that finds the grid on each scan and cuts its 600 cells; follow it at /api/jobs/{id}."""
    project = projects_service.get_project(session, user, project_id)
    return service.start(session, runner, project, body.scan_ids)
