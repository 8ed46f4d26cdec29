from typing import Annotated

from fastapi import APIRouter, Query, Response

from digitlab.api.deps import (
    CellDep,
    ProjectDep,
    ReadableCellDep,
    ReadableProjectDep,
    SessionDep,
    SettingsDep,
    StorageDep,
)
from digitlab.api.uploads import DatasetFile, multipart_body
from digitlab.core.paging import MAX_OFFSET
from digitlab.core.text import SafeStr
from digitlab.datasets import service
from digitlab.datasets.schemas import (
    CellFilter,
    CellPage,
    CellPublic,
    CellUpdate,
    DatasetSummary,
    ExportFormat,
    ImportResult,
)

router = APIRouter(prefix="/api/projects/{project_id}/dataset", tags=["datasets"])


@router.get("", response_model=DatasetSummary)
def summary(project: ReadableProjectDep, session: SessionDep):
    """Sample counts per label."""
    return service.summary(session, project)


@router.get("/cells", response_model=CellPage)
def list_cells(
    project: ReadableProjectDep,
    session: SessionDep,
    label: Annotated[SafeStr | None, Query(max_length=16)] = None,
    which: CellFilter = "included",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    scan_id: Annotated[int | None, Query(ge=1, description="Only this scan's cells")] = None,
):
    """Samples page by page, each with its 28x28 image."""
    return service.list_cells(session, project, label, which, offset, limit, scan_id)


@router.get("/cells/{cell_id}/image.png", response_class=Response)
def cell_image(cell: ReadableCellDep):
    return Response(service.cell_png(cell), media_type="image/png")


@router.patch("/cells/{cell_id}", response_model=CellPublic)
def update_cell(project: ProjectDep, cell: CellDep, body: CellUpdate, session: SessionDep):
    """Exclude (`included: false`), include, or relabel one sample."""
    return service.to_public(service.update_cell(session, project, cell, body))


@router.get("/sheets/{label_index}.png", response_class=Response)
def label_sheet(
    project: ReadableProjectDep,
    label_index: int,
    session: SessionDep,
    columns: Annotated[int, Query(ge=1, le=100)] = 20,
    limit: Annotated[int, Query(ge=1, le=20000)] = 2000,
):
    """All samples of one label (by its index in the project's labels) as one sprite sheet."""
    return Response(service.label_sheet(session, project, label_index, columns, limit), media_type="image/png")


@router.post(
    "/import",
    response_model=ImportResult,
    status_code=201,
    openapi_extra=multipart_body("file", "mnist.npz or a zip of <label>_<n>.png", many=False),
)
def import_dataset(
    file: DatasetFile, project: ProjectDep, session: SessionDep, storage: StorageDep, settings: SettingsDep
):
    """Add the samples of a file (form field `file`). The same data set is imported once (409 after that)."""
    return service.import_file(session, storage, settings, project, file)


@router.get("/export", response_class=Response)
def export_dataset(
    project: ReadableProjectDep,
    session: SessionDep,
    format: ExportFormat = "npz",
    test_fraction: Annotated[float, Query(ge=0.0, le=0.9)] = 1 / 7,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="of the train/test split")] = 0,
):
    """The included samples as mnist.npz (x/y train/test, ink = 255) or as a zip of <label>_<n>.png."""
    data = service.export(session, project, format, test_fraction, seed)
    filename = f"digitlab-{project.id}.{'npz' if format == 'npz' else 'zip'}"
    return Response(
        data,
        media_type="application/octet-stream" if format == "npz" else "application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
