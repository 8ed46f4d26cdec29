"""Scan uploads: validate every file completely before storing anything, then store atomically."""

import hashlib
from dataclasses import dataclass

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from digitlab.api.errors import ApiError, conflict, not_found
from digitlab.core.config import Settings
from digitlab.core.storage import FileStorage
from digitlab.pipeline.decode import DecodedFile, ImageRejected, decode_file
from digitlab.pipeline.imageio import downscale_to, encode_jpeg, encode_png
from digitlab.projects import service as projects_service
from digitlab.projects.models import Project
from digitlab.scans.models import Scan
from digitlab.scans.schemas import ScanPublic

THUMBNAIL_SIDE = 320
# These are decoded straight from the stored original; PDF and TIFF pages are stored rendered as PNG.
SELF_CONTAINED_TYPES = ("image/png", "image/jpeg")


@dataclass
class IncomingFile:
    filename: str
    data: bytes


# --- storage keys: built from ids and hashes only, never from the user's file name -----------------
def original_key(project_id: int, sha256: str) -> str:
    return f"{projects_service.files_prefix(project_id)}/uploads/{sha256}"


def scan_key(scan: Scan, name: str) -> str:
    return f"{projects_service.files_prefix(scan.project_id)}/scans/{scan.id}/{name}"


def page_image_key(scan: Scan) -> str:
    if scan.media_type in SELF_CONTAINED_TYPES:
        return original_key(scan.project_id, scan.sha256)
    return scan_key(scan, "page.png")


def preview_key(scan: Scan) -> str:
    return scan_key(scan, "preview.jpg")


def thumbnail_key(scan: Scan) -> str:
    return scan_key(scan, "thumbnail.jpg")


REJECTION_STATUS = {"unsupported_type": 415}


def _validate(settings: Settings, incoming: IncomingFile) -> DecodedFile:
    name = incoming.filename
    if len(incoming.data) > settings.max_upload_bytes:
        raise ApiError(413, f"'{name}' is larger than the limit of {settings.max_upload_bytes // (1024 * 1024)} MB.",
                       "file_too_large", filename=name)
    try:
        return decode_file(incoming.data, max_pixels=settings.max_page_pixels, max_pages=settings.max_pdf_pages,
                           pdf_dpi=settings.pdf_render_dpi)
    except ImageRejected as exc:
        raise ApiError(REJECTION_STATUS.get(exc.code, 422), f"'{name}': {exc.message}", exc.code,
                       filename=name) from None


def upload(session: Session, storage: FileStorage, settings: Settings, project: Project,
           files: list[IncomingFile]) -> list[Scan]:
    if not files:
        raise ApiError(422, "Please choose at least one file to upload.", "no_files")
    if len(files) > settings.max_files_per_upload:
        raise ApiError(422, f"Please upload at most {settings.max_files_per_upload} files at once.", "too_many_files")
    decoded: list[tuple[IncomingFile, str, DecodedFile]] = []
    seen: dict[str, str] = {}
    for incoming in files:
        digest = hashlib.sha256(incoming.data).hexdigest()
        if digest in seen:
            raise conflict(f"'{incoming.filename}' is the same file as '{seen[digest]}'.", "duplicate_upload",
                           filename=incoming.filename)
        existing = session.exec(select(Scan).where(Scan.project_id == project.id, Scan.sha256 == digest)).first()
        if existing is not None:
            raise conflict(f"'{incoming.filename}' was already uploaded to this project (as '{existing.filename}').",
                           "duplicate_upload", filename=incoming.filename, existing_scan_id=existing.id)
        seen[digest] = incoming.filename
        decoded.append((incoming, digest, _validate(settings, incoming)))
    return _store(session, storage, project, decoded)


def _store(session: Session, storage: FileStorage, project: Project,
           decoded: list[tuple[IncomingFile, str, DecodedFile]]) -> list[Scan]:
    originals: list[tuple[str, str]] = []  # (sha256, key)
    page_files: list[str] = []  # keyed by this request's new scan ids, so never shared
    scans: list[Scan] = []
    try:
        for incoming, digest, file in decoded:
            key = original_key(project.id, digest)
            storage.write(key, incoming.data)
            originals.append((digest, key))
            for page in file.pages:
                height, width = page.gray.shape
                scan = Scan(project_id=project.id, sha256=digest, filename=incoming.filename[:255],
                            media_type=file.media_type, size_bytes=len(incoming.data), page_index=page.index,
                            page_count=len(file.pages), width=width, height=height)
                session.add(scan)
                session.flush()  # assigns the id the file keys are built from
                if page_image_key(scan) != key:
                    page_files.append(page_image_key(scan))
                    storage.write(page_image_key(scan), encode_png(page.gray))
                page_files.append(thumbnail_key(scan))
                storage.write(thumbnail_key(scan), encode_jpeg(downscale_to(page.gray, THUMBNAIL_SIDE), 80))
                scans.append(scan)
        session.commit()
    except BaseException as exc:
        session.rollback()
        for key in page_files:
            storage.delete(key)
        for digest, key in originals:
            # A request racing with this one may have stored the same content and won: keep its file.
            if session.exec(select(Scan.id).where(Scan.project_id == project.id, Scan.sha256 == digest)).first() is None:
                storage.delete(key)
        if isinstance(exc, IntegrityError):
            raise conflict("This file was just uploaded to this project by another request.",
                           "duplicate_upload") from None
        raise
    for scan in scans:
        session.refresh(scan)
    return scans


def list_scans(session: Session, project: Project) -> list[Scan]:
    return list(session.exec(select(Scan).where(Scan.project_id == project.id).order_by(Scan.id)))


def get_scan(session: Session, project: Project, scan_id: int) -> Scan:
    scan = session.get(Scan, scan_id)
    if scan is None or scan.project_id != project.id:
        raise not_found("Scan")
    return scan


def read_file(storage: FileStorage, key: str, what: str) -> bytes:
    if not storage.exists(key):
        raise not_found(what)
    return storage.read(key)


def load_page_gray(storage: FileStorage, settings: Settings, scan: Scan) -> np.ndarray:
    """The page as an 8-bit grayscale array, for extraction."""
    data = storage.read(page_image_key(scan))
    file = decode_file(data, max_pixels=settings.max_page_pixels, max_pages=settings.max_pdf_pages,
                       pdf_dpi=settings.pdf_render_dpi)
    return file.pages[0].gray


def delete_scan(session: Session, storage: FileStorage, scan: Scan) -> None:
    keys = [thumbnail_key(scan), preview_key(scan), scan_key(scan, "page.png")]
    shares_original = session.exec(select(Scan.id).where(Scan.project_id == scan.project_id,
                                                         Scan.sha256 == scan.sha256, Scan.id != scan.id)).first()
    if shares_original is None:
        keys.append(original_key(scan.project_id, scan.sha256))
    session.delete(scan)
    session.commit()
    for key in keys:
        storage.delete(key)


def to_public(scan: Scan) -> ScanPublic:
    base = f"/api/projects/{scan.project_id}/scans/{scan.id}"
    return ScanPublic(**scan.model_dump(), original_url=f"{base}/original", thumbnail_url=f"{base}/thumbnail",
                      preview_url=f"{base}/preview" if scan.status == "extracted" else None)
