from typing import Annotated

from fastapi import APIRouter, File, Query, Response, UploadFile

from digitlab.api.deps import CurrentUser, Id, SessionDep, SettingsDep
from digitlab.datasets import service
from digitlab.datasets.schemas import CellFilter, CellPage, CellPublic, CellUpdate, DatasetSummary, ExportFormat, ImportResult
from digitlab.projects import service as projects_service

router = APIRouter(prefix="/api/projects/{project_id}/dataset", tags=["datasets"])


@router.get("", response_model=DatasetSummary)
def summary(project_id: Id, session: SessionDep, user: CurrentUser):
    """Sample counts per label."""
    return service.summary(session, projects_service.get_project(session, user, project_id))


@router.get("/cells", response_model=CellPage)
def list_cells(project_id: Id, session: SessionDep, user: CurrentUser, label: str | None = None,
               which: CellFilter = "included", offset: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 200):
    """Samples page by page, each with its 28x28 image."""
    project = projects_service.get_project(session, user, project_id)
    return service.list_cells(session, project, label, which, offset, limit)


@router.get("/cells/{cell_id}/image.png", response_class=Response)
def cell_image(project_id: Id, cell_id: Id, session: SessionDep, user: CurrentUser):
    cell = service.get_cell(session, projects_service.get_project(session, user, project_id), cell_id)
    return Response(service.cell_png(cell), media_type="image/png")


@router.patch("/cells/{cell_id}", response_model=CellPublic)
def update_cell(project_id: Id, cell_id: Id, body: CellUpdate, session: SessionDep, user: CurrentUser):
    """Exclude (`included: false`), include, or relabel one sample."""
    project = projects_service.get_project(session, user, project_id)
    cell = service.get_cell(session, project, cell_id)
    return service.to_public(service.update_cell(session, project, cell, body))


@router.get("/sheets/{label_index}.png", response_class=Response)
def label_sheet(project_id: Id, label_index: int, session: SessionDep, user: CurrentUser,
                columns: Annotated[int, Query(ge=1, le=100)] = 20,
                limit: Annotated[int, Query(ge=1, le=20000)] = 2000):
    """All samples of one label (by its index in the project's labels) as one sprite sheet."""
    project = projects_service.get_project(session, user, project_id)
    return Response(service.label_sheet(session, project, label_index, columns, limit), media_type="image/png")


@router.post("/import", response_model=ImportResult, status_code=201)
def import_dataset(project_id: Id, file: Annotated[UploadFile, File(description="mnist.npz or a zip of <label>_<n>.png")],
                   session: SessionDep, settings: SettingsDep, user: CurrentUser):
    project = projects_service.get_project(session, user, project_id)
    return service.import_file(session, settings, project, file.file.read(settings.max_import_bytes + 1))


@router.get("/export", response_class=Response)
def export_dataset(project_id: Id, session: SessionDep, user: CurrentUser, format: ExportFormat = "npz",
                   test_fraction: Annotated[float, Query(ge=0.0, le=0.9)] = 1 / 7,
                   seed: int = 0):
    """The included samples as mnist.npz (x/y train/test, ink = 255) or as a zip of <label>_<n>.png."""
    project = projects_service.get_project(session, user, project_id)
    data = service.export(session, project, format, test_fraction, seed)
    filename = f"digitlab-{project.id}.{'npz' if format == 'npz' else 'zip'}"
    return Response(data, media_type="application/octet-stream" if format == "npz" else "application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
