from fastapi import APIRouter, status

from digitlab.api.deps import ProjectDep, RunnerDep, SessionDep
from digitlab.extraction import service
from digitlab.extraction.schemas import ExtractionCreate
from digitlab.jobs.schemas import JobPublic

router = APIRouter(prefix="/api/projects/{project_id}/extractions", tags=["extraction"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic)
def start_extraction(project: ProjectDep, session: SessionDep, runner: RunnerDep, body: ExtractionCreate | None = None):
    """Start a job that finds the grid on each scan and cuts its 600 cells; follow it at /api/jobs/{id}.
    Without a body (or without `scan_ids`), all scans of the project."""
    return service.start(session, runner, project, body.scan_ids if body else None)
