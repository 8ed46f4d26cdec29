"""A class's bulk scans and its unassigned tray: for the class's teachers only (404 for everyone else)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from digitlab.api.deps import CurrentUser, Id, RunnerDep, SessionDep, SettingsDep, StorageDep, TaughtClassDep
from digitlab.api.paging import PageDep
from digitlab.api.turns import DECODE_TURN
from digitlab.api.uploads import ScanFiles, multipart_body
from digitlab.class_scans import service
from digitlab.class_scans.schemas import (
    AssignedPage,
    AssignPage,
    BulkScanResult,
    ScanTarget,
    UnassignedPagePublic,
)
from digitlab.class_scans.tables import UnassignedPage
from digitlab.jobs import service as jobs_service
from digitlab.scans import service as scans_service

router = APIRouter(prefix="/api/classes/{class_id}", tags=["class scans"])


def get_tray_page(page_id: Id, school_class: TaughtClassDep, session: SessionDep) -> UnassignedPage:
    return service.get_tray_page(session, school_class, page_id)


TrayPageDep = Annotated[UnassignedPage, Depends(get_tray_page)]


@router.post(
    "/bulk-scans",
    status_code=status.HTTP_201_CREATED,
    response_model=BulkScanResult,
    openapi_extra=multipart_body("files", "PDF (or PNG, JPEG, TIFF) with the class's sheets", many=True),
    dependencies=[DECODE_TURN],
)
def upload_bulk_scans(
    files: ScanFiles,
    school_class: TaughtClassDep,
    user: CurrentUser,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    runner: RunnerDep,
):
    """Upload the class's filled-in sheets at once (form field `files`, e.g. one PDF from the copier). Each page
    goes to the student's project its printed code names (only students of this class) and is extracted there;
    pages without a valid code wait in the unassigned tray. All or nothing; the upload limits apply."""
    return service.upload(session, storage, settings, runner, school_class, user, files)


@router.get("/bulk-scans/targets", response_model=list[ScanTarget])
def list_targets(school_class: TaughtClassDep, session: SessionDep):
    """The projects of the class's students: where an unassigned page may be assigned."""
    return service.targets(session, school_class)


@router.get("/unassigned-pages", response_model=list[UnassignedPagePublic])
def list_unassigned_pages(school_class: TaughtClassDep, session: SessionDep, page: PageDep):
    """The pages waiting for a teacher, oldest first, each with why it could not be routed."""
    return [service.to_public(p) for p in service.list_tray(session, school_class, page)]


@router.get("/unassigned-pages/{page_id}", response_model=UnassignedPagePublic)
def get_unassigned_page(tray_page: TrayPageDep):
    return service.to_public(tray_page)


@router.get("/unassigned-pages/{page_id}/thumbnail", response_class=Response)
def unassigned_page_thumbnail(tray_page: TrayPageDep, storage: StorageDep):
    return Response(service.read_file(storage, service.thumbnail_key(tray_page)), media_type="image/jpeg")


@router.get("/unassigned-pages/{page_id}/preview", response_class=Response)
def unassigned_page_preview(tray_page: TrayPageDep, storage: StorageDep):
    """The page large enough to read the nickname written on it."""
    return Response(service.read_file(storage, service.preview_key(tray_page)), media_type="image/jpeg")


@router.post("/unassigned-pages/{page_id}/assign", status_code=status.HTTP_201_CREATED, response_model=AssignedPage)
def assign_unassigned_page(
    tray_page: TrayPageDep,
    body: AssignPage,
    school_class: TaughtClassDep,
    session: SessionDep,
    storage: StorageDep,
    settings: SettingsDep,
    runner: RunnerDep,
):
    """Give the page to a student's project (of this class): it becomes a scan there and is extracted."""
    scan, job = service.assign(session, storage, settings, runner, school_class, tray_page, body.project_id)
    return AssignedPage(scan=scans_service.to_public(scan), job=jobs_service.to_public(session, job))


@router.delete("/unassigned-pages/{page_id}", status_code=status.HTTP_204_NO_CONTENT)
def discard_unassigned_page(tray_page: TrayPageDep, session: SessionDep, storage: StorageDep):
    """Discard the page (a blank page, a sheet of another class): it and its files are deleted."""
    service.discard(session, storage, tray_page)
