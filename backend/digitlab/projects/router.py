from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from digitlab.api.deps import CurrentUser, ProjectDep, ReadableProjectDep, RunnerDep, SessionDep, StorageDep
from digitlab.api.paging import PageDep
from digitlab.core.db import stored_id
from digitlab.jobs import service as jobs_service
from digitlab.pipeline.sheet_code import MAX_PAGE
from digitlab.projects import service
from digitlab.projects.schemas import ProjectCreate, ProjectPublic, ProjectUpdate
from digitlab.sheets import service as sheets_service

router = APIRouter(prefix="/api/projects", tags=["projects"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProjectPublic)
def create_project(body: ProjectCreate, session: SessionDep, user: CurrentUser):
    return service.to_public(session, service.create_project(session, user, body))


@router.get("", response_model=list[ProjectPublic])
def list_projects(session: SessionDep, user: CurrentUser, page: PageDep):
    return service.list_public(session, user, page)


@router.get("/{project_id}", response_model=ProjectPublic)
def get_project(project: ReadableProjectDep, session: SessionDep):
    return service.to_public(session, project)


@router.patch("/{project_id}", response_model=ProjectPublic)
def update_project(project: ProjectDep, body: ProjectUpdate, session: SessionDep):
    return service.to_public(session, service.update_project(session, project, body))


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project: ProjectDep, session: SessionDep, storage: StorageDep, runner: RunnerDep):
    """Deletes the project with its scans, samples, jobs and trainings, or (if anything fails) nothing."""
    jobs_service.cancel_project_jobs(session, runner, stored_id(project))
    service.delete_project(session, storage, project)


@router.get("/{project_id}/sheet.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
def sheet_pdf(
    project: ReadableProjectDep,
    session: SessionDep,
    version: Annotated[int, Query(ge=1, le=2, description="2: corner markers and the page's code; 1: plain grid")] = 2,
    lang: Annotated[Literal["en", "de"], Query(description="The language of the printed instructions")] = "en",
    page: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_PAGE,
            description="The first sheet's page number (version 2); default: "
            "the one after the highest page number this project's scans carry",
        ),
    ] = None,
    pages: Annotated[int, Query(ge=1, le=sheets_service.MAX_SHEETS, description="How many sheets (version 2)")] = 1,
):
    """The printable A4 grid sheet with this project's labels beside each row. Version 2 (the default) also has
    four corner markers (any way up, even mirrored, reads right), a QR code with the project and page number
    signed by the server (never a name), a nickname field and one line of instructions; version 1 is the legacy
    plain grid with the labels beside each group of three rows."""
    pdf, first = sheets_service.sheet_pdf(session, project, version, lang, page, pages)
    name = f"digitlab-sheet-{project.id}" + (f"-page-{first}" if version == 2 else "")
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'}
    )
