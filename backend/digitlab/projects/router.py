from fastapi import APIRouter, Response, status

from digitlab.api.deps import CurrentUser, Id, RunnerDep, SessionDep, StorageDep
from digitlab.jobs import service as jobs_service
from digitlab.projects import service
from digitlab.projects.schemas import ProjectCreate, ProjectPublic, ProjectUpdate
from digitlab.projects.sheet_pdf import render_sheet_pdf

router = APIRouter(prefix="/api/projects", tags=["projects"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectPublic)
def create_project(body: ProjectCreate, session: SessionDep, user: CurrentUser):
    return service.to_public(session, service.create_project(session, user, body))


@router.get("", response_model=list[ProjectPublic])
def list_projects(session: SessionDep, user: CurrentUser):
    return [service.to_public(session, p) for p in service.list_projects(session, user)]


@router.get("/{project_id}", response_model=ProjectPublic)
def get_project(project_id: Id, session: SessionDep, user: CurrentUser):
    return service.to_public(session, service.get_project(session, user, project_id))


@router.patch("/{project_id}", response_model=ProjectPublic)
def update_project(project_id: Id, body: ProjectUpdate, session: SessionDep, user: CurrentUser):
    project = service.get_project(session, user, project_id)
    return service.to_public(session, service.update_project(session, project, body))


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project_id: Id, session: SessionDep, storage: StorageDep, runner: RunnerDep,
                   user: CurrentUser):
    project = service.get_project(session, user, project_id)
    jobs_service.cancel_project_jobs(session, runner, project.id)
    service.delete_project(session, storage, project)


@router.get("/{project_id}/sheet.pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def sheet_pdf(project_id: Id, session: SessionDep, user: CurrentUser):
    """The printable A4 grid sheet with this project's labels beside each group of three rows."""
    project = service.get_project(session, user, project_id)
    pdf = render_sheet_pdf(project.labels, title=project.name)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="digitlab-sheet-{project.id}.pdf"'})
