from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Response, status

from digitlab.api.deps import (
    ProjectDep,
    ReadableProjectDep,
    ReadableScanDep,
    ScanDep,
    SessionDep,
    SettingsDep,
    StorageDep,
)
from digitlab.api.paging import PageDep
from digitlab.api.turns import DECODE_TURN
from digitlab.api.uploads import ScanFiles, multipart_body
from digitlab.pipeline.template import COLUMNS, ROWS
from digitlab.scans import service
from digitlab.scans.schemas import ScanCorners, ScanPublic

router = APIRouter(prefix="/api/projects/{project_id}/scans", tags=["scans"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=list[ScanPublic],
    openapi_extra=multipart_body("files", "PNG, JPEG, TIFF or PDF", many=True),
    dependencies=[DECODE_TURN],
)
def upload_scans(
    files: ScanFiles, project: ProjectDep, session: SessionDep, storage: StorageDep, settings: SettingsDep
):
    """Upload one or many files (form field `files`); each PDF or TIFF page becomes its own scan. All or
    nothing. Limits per file, per request (bytes, files, pages, pixels) and the user's storage quota apply."""
    return [service.to_public(scan) for scan in service.upload(session, storage, settings, project, files)]


@router.post(
    "/examples", status_code=status.HTTP_201_CREATED, response_model=list[ScanPublic], dependencies=[DECODE_TURN]
)
def add_example_scans(project: ProjectDep, session: SessionDep, storage: StorageDep, settings: SettingsDep):
    """Add the example pages (handwritten digits from MNIST on the printed sheet) as uploaded scans, for a
    student without printer or scanner. Once per project: again is 409 `duplicate_upload`."""
    return [service.to_public(scan) for scan in service.add_examples(session, storage, settings, project)]


@router.get("", response_model=list[ScanPublic])
def list_scans(project: ReadableProjectDep, session: SessionDep, page: PageDep):
    return [service.to_public(scan) for scan in service.list_scans(session, project, page)]


@router.get("/{scan_id}", response_model=ScanPublic)
def get_scan(scan: ReadableScanDep):
    return service.to_public(scan)


@router.get("/{scan_id}/original", response_class=Response)
def download_original(scan: ReadableScanDep, storage: StorageDep):
    """The file exactly as uploaded (for a PDF page: the whole PDF)."""
    data = service.read_file(storage, service.original_key(scan.project_id, scan.sha256), "Original file")
    disposition = f"attachment; filename*=UTF-8''{quote(scan.filename)}"
    return Response(data, media_type=scan.media_type, headers={"Content-Disposition": disposition})


@router.get("/{scan_id}/thumbnail", response_class=Response)
def thumbnail(scan: ReadableScanDep, storage: StorageDep):
    return Response(service.read_file(storage, service.thumbnail_key(scan), "Thumbnail"), media_type="image/jpeg")


@router.get("/{scan_id}/preview", response_class=Response)
def preview(scan: ReadableScanDep, storage: StorageDep):
    """The page with the grid the extraction found drawn on it (after an extraction)."""
    return Response(service.read_file(storage, service.preview_key(scan), "Preview"), media_type="image/jpeg")


@router.get("/{scan_id}/page", response_class=Response)
def page_image(scan: ReadableScanDep, storage: StorageDep, settings: SettingsDep):
    """The page as the extraction sees it (long side at most 1600 px), to place the grid's corners on by hand."""
    return Response(service.page_jpeg(storage, settings, scan), media_type="image/jpeg")


@router.get("/{scan_id}/cutout", response_class=Response)
def cell_cutout(
    scan: ReadableScanDep,
    storage: StorageDep,
    settings: SettingsDep,
    row: Annotated[int, Query(ge=0, lt=ROWS)] = 0,
    col: Annotated[int, Query(ge=0, lt=COLUMNS)] = 0,
):
    """One cell of an extracted page as it is on the page, enlarged, with a little of its neighbours: why a cell
    was kept or dropped."""
    return Response(service.cell_cutout_png(storage, settings, scan, row, col), media_type="image/png")


@router.put("/{scan_id}/corners", response_model=ScanPublic)
def set_corners(body: ScanCorners, scan: ScanDep, session: SessionDep):
    """The grid's corners placed by hand (when it was not found or not found right); the next extraction of this
    page uses them instead of searching. `corners: null` searches again."""
    return service.to_public(service.set_manual_corners(session, scan, body.corners))


@router.delete("/{scan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_scan(scan: ScanDep, session: SessionDep, storage: StorageDep):
    """Deletes the scan, its files and its cells."""
    service.delete_scan(session, storage, scan)
