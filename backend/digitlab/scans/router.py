from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Response, UploadFile, status

from digitlab.api.deps import CurrentUser, Id, SessionDep, SettingsDep, StorageDep
from digitlab.projects import service as projects_service
from digitlab.scans import service
from digitlab.scans.schemas import ScanPublic

router = APIRouter(prefix="/api/projects/{project_id}/scans", tags=["scans"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=list[ScanPublic])
def upload_scans(project_id: Id, files: Annotated[list[UploadFile], File(description="PNG, JPEG, TIFF or PDF")],
                 session: SessionDep, storage: StorageDep, settings: SettingsDep, user: CurrentUser):
    """Upload one or many files; each PDF or TIFF page becomes its own scan. All or nothing."""
    project = projects_service.get_project(session, user, project_id)
    incoming = [service.IncomingFile(upload.filename or "upload", upload.file.read(settings.max_upload_bytes + 1))
                for upload in files]
    return [service.to_public(scan) for scan in service.upload(session, storage, settings, project, incoming)]


@router.get("", response_model=list[ScanPublic])
def list_scans(project_id: Id, session: SessionDep, user: CurrentUser):
    project = projects_service.get_project(session, user, project_id)
    return [service.to_public(scan) for scan in service.list_scans(session, project)]


@router.get("/{scan_id}", response_model=ScanPublic)
def get_scan(project_id: Id, scan_id: Id, session: SessionDep, user: CurrentUser):
    project = projects_service.get_project(session, user, project_id)
    return service.to_public(service.get_scan(session, project, scan_id))


@router.get("/{scan_id}/original", response_class=Response)
def download_original(project_id: Id, scan_id: Id, session: SessionDep, storage: StorageDep, user: CurrentUser):
    """The file exactly as uploaded (for a PDF page: the whole PDF)."""
    scan = service.get_scan(session, projects_service.get_project(session, user, project_id), scan_id)
    data = service.read_file(storage, service.original_key(scan.project_id, scan.sha256), "Original file")
    disposition = f"attachment; filename*=UTF-8''{quote(scan.filename)}"
    return Response(data, media_type=scan.media_type, headers={"Content-Disposition": disposition})


@router.get("/{scan_id}/thumbnail", response_class=Response)
def thumbnail(project_id: Id, scan_id: Id, session: SessionDep, storage: StorageDep, user: CurrentUser):
    scan = service.get_scan(session, projects_service.get_project(session, user, project_id), scan_id)
    return Response(service.read_file(storage, service.thumbnail_key(scan), "Thumbnail"), media_type="image/jpeg")


@router.get("/{scan_id}/preview", response_class=Response)
def preview(project_id: Id, scan_id: Id, session: SessionDep, storage: StorageDep, user: CurrentUser):
    """The page with the grid the extraction found drawn on it (after an extraction)."""
    scan = service.get_scan(session, projects_service.get_project(session, user, project_id), scan_id)
    return Response(service.read_file(storage, service.preview_key(scan), "Preview"), media_type="image/jpeg")


@router.delete("/{scan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_scan(project_id: Id, scan_id: Id, session: SessionDep, storage: StorageDep, user: CurrentUser):
    """Deletes the scan, its files and its cells."""
    scan = service.get_scan(session, projects_service.get_project(session, user, project_id), scan_id)
    service.delete_scan(session, storage, scan)
