"""Scan uploads: check every file completely before storing anything, then store atomically.

Memory stays bounded whatever a request holds: the files arrive on disk (digitlab.api.uploads), a first pass
reads only headers (page counts and sizes, checked per file and for the whole request), and a second renders
one page at a time, writing it and its thumbnail to the staging folder before the next page is decoded;
at most settings.upload_decode_slots pages are in memory across all uploads at once. Only when every page
of every file has passed, and the user's quota and the disk have room, are the files renamed into the store.
"""

import hashlib
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digitlab.core.config import Settings
from digitlab.core.db import after_commit, after_rollback, release_connection, stored_id
from digitlab.core.errors import DomainError, conflict, invalid, not_found, too_large, unsupported
from digitlab.core.paging import FIRST_PAGE, Page
from digitlab.core.storage import FileStorage, StagedFile
from digitlab.pipeline import params
from digitlab.pipeline.decode import ImageRejected, OpenedFile, PageImage, decode_file, open_file
from digitlab.pipeline.imageio import downscale_to, encode_jpeg, encode_png
from digitlab.pipeline.template import DIGIT_LABELS
from digitlab.pipeline.warp import cell_cutout
from digitlab.projects import service as projects_service
from digitlab.projects.tables import Project
from digitlab.quotas import service as quotas_service
from digitlab.scans.schemas import ScanPublic
from digitlab.scans.tables import Scan

THUMBNAIL_SIDE = 320
# Ready-made pages (MNIST handwriting on our sheet, scripts/example_pages.py) for a student without printer or scanner.
EXAMPLES_DIR = Path(__file__).parent / "examples"
# These are decoded straight from the stored original; PDF and TIFF pages are stored rendered as PNG.
SELF_CONTAINED_TYPES = ("image/png", "image/jpeg")


@dataclass
class _Page:
    index: int
    width: int
    height: int
    image: Path | None  # the rendered page (PDF, TIFF) in staging; None when the original is the page
    thumbnail: Path


@dataclass
class _Checked:
    """An uploaded file whose every page has been decoded and checked; its pages wait in staging."""

    file: StagedFile
    media_type: str
    pages: list[_Page]

    @property
    def new_bytes(self) -> int:
        return self.file.size + sum(
            p.thumbnail.stat().st_size + (p.image.stat().st_size if p.image else 0) for p in self.pages
        )


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


def rejection(exc: ImageRejected, detail: str, **extra) -> DomainError:
    """A file the decoder refused: 415 for a type we cannot read, 422 for a broken or unusable file."""
    make = unsupported if exc.code == "unsupported_type" else invalid
    return make(detail, exc.code, **extra)


_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def decode_slot(settings: Settings) -> threading.BoundedSemaphore:
    """One of the few pages that all uploads together may hold in memory at once."""
    with _slots_lock:
        return _slots.setdefault(settings.upload_decode_slots, threading.BoundedSemaphore(settings.upload_decode_slots))


def open_upload(settings: Settings, file: StagedFile) -> OpenedFile:
    """The file opened for page-by-page decoding (headers only so far), or a 4xx naming the file."""
    try:
        return open_file(
            file.path,
            max_pixels=settings.max_page_pixels,
            max_pages=settings.max_pdf_pages,
            pdf_dpi=settings.pdf_render_dpi,
            min_side=settings.min_page_side,
        )
    except ImageRejected as exc:
        raise rejection(exc, f"'{file.filename}': {exc.message}", filename=file.filename) from None


def _check_files(session: Session, settings: Settings, project: Project, files: list[StagedFile]) -> None:
    """Everything known before decoding: counts, sizes, duplicates, and the pages and pixels of all files."""
    check_upload_limits(settings, files)
    seen: dict[str, str] = {}
    for file in files:
        if file.sha256 in seen:
            raise conflict(
                f"'{file.filename}' is the same file as '{seen[file.sha256]}'.",
                "duplicate_upload",
                filename=file.filename,
            )
        existing = session.exec(select(Scan).where(Scan.project_id == project.id, Scan.sha256 == file.sha256)).first()
        if existing is not None:
            raise conflict(
                f"'{file.filename}' was already uploaded to this project (as '{existing.filename}').",
                "duplicate_upload",
                filename=file.filename,
                existing_scan_id=existing.id,
            )
        seen[file.sha256] = file.filename
    check_upload_pages(settings, files)


def check_upload_limits(settings: Settings, files: list[StagedFile]) -> None:
    """The request's file count and each file's size."""
    if not files:
        raise invalid("Please choose at least one file to upload.", "no_files")
    if len(files) > settings.max_files_per_upload:
        raise invalid(
            f"Please upload at most {settings.max_files_per_upload} files at once.",
            "too_many_files",
            max_files=settings.max_files_per_upload,
        )
    for file in files:
        if file.size > settings.max_upload_bytes:
            raise too_large(
                f"'{file.filename}' is larger than the limit of {settings.max_upload_bytes // (1024 * 1024)} MB.",
                "file_too_large",
                filename=file.filename,
            )


def check_upload_pages(settings: Settings, files: list[StagedFile]) -> None:
    """The pages and pixels of all files together, from their headers (nothing is decoded yet)."""
    pages = pixels = 0
    for file in files:
        with open_upload(settings, file) as opened:
            pages += opened.page_count
            pixels += opened.total_pixels
    if pages > settings.max_upload_pages:
        raise too_large(
            f"These files hold {pages} pages together; at most {settings.max_upload_pages} pages can "
            "be uploaded at once. Please upload them in smaller batches.",
            "upload_too_many_pages",
            pages=pages,
            max_pages=settings.max_upload_pages,
        )
    if pixels > settings.max_upload_pixels:
        raise too_large(
            f"These files hold {pixels / 1e6:.0f} million pixels together; at most "
            f"{settings.max_upload_pixels / 1e6:.0f} million can be uploaded at once. Please upload "
            "them in smaller batches (or scan at 300 dpi).",
            "upload_too_many_pixels",
        )


def _decode_pages(settings: Settings, file: StagedFile) -> _Checked:
    """Decode and check the file's pages one at a time; each page's image and thumbnail go to staging."""
    pages: list[_Page] = []
    with open_upload(settings, file) as opened:
        for index in range(opened.page_count):
            with decode_slot(settings):
                try:
                    gray = opened.page(index).gray
                except ImageRejected as exc:
                    raise rejection(exc, f"'{file.filename}': {exc.message}", filename=file.filename) from None
                height, width = gray.shape
                image = None
                if opened.media_type not in SELF_CONTAINED_TYPES:
                    image = file.path.with_name(f"{file.path.name}.{index}.png")
                    image.write_bytes(encode_png(gray))
                thumbnail = file.path.with_name(f"{file.path.name}.{index}.jpg")
                thumbnail.write_bytes(encode_jpeg(downscale_to(gray, THUMBNAIL_SIDE), 80))
                del gray  # before the next page is decoded
            pages.append(_Page(index, width, height, image, thumbnail))
        return _Checked(file, opened.media_type, pages)


def upload(
    session: Session, storage: FileStorage, settings: Settings, project: Project, files: list[StagedFile]
) -> list[Scan]:
    """Store the files (already on disk in staging) as scans, one per page: all of them, or none."""
    _check_files(session, settings, project, files)
    quotas_service.ensure_room(session, storage, settings, project.owner_id, sum(f.size for f in files))
    release_connection(session)  # nothing written yet; decoding may wait for a slot
    checked = [_decode_pages(settings, file) for file in files]
    # The rendered pages and thumbnails count too: check again with what would really be stored.
    quotas_service.ensure_room(session, storage, settings, project.owner_id, sum(c.new_bytes for c in checked))
    return _store(session, storage, project, checked)


def example_pages() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("example-page-*.png"))


def add_examples(session: Session, storage: FileStorage, settings: Settings, project: Project) -> list[Scan]:
    """The example pages, uploaded to the project like a student's own scans (the same checks and quota; a
    second time is a duplicate upload). They hold the digits 0-9 in the printed order, so only for such projects."""
    if list(project.labels) != DIGIT_LABELS:
        raise conflict("The example pages hold the digits 0-9; this project has other labels.", "examples_need_digits")
    with storage.staging() as folder:
        files = []
        for source in example_pages():
            target = folder / source.name
            shutil.copyfile(source, target)
            data = target.read_bytes()
            files.append(StagedFile(source.name, target, len(data), hashlib.sha256(data).hexdigest()))
        return upload(session, storage, settings, project, files)


def _store(session: Session, storage: FileStorage, project: Project, checked: list[_Checked]) -> list[Scan]:
    """Rows first (their ids name the files), then the staged files renamed into place; if the request's unit
    of work rolls back, the files go again."""
    project_id = stored_id(project)
    originals: list[tuple[str, str]] = []  # (sha256, key)
    page_files: list[str] = []  # keyed by this request's new scan ids, so never shared

    def remove_files() -> None:
        for key in page_files:
            storage.delete(key)
        for digest, key in originals:
            # A request racing with this one may have stored the same content and won: keep its file.
            same = select(Scan.id).where(Scan.project_id == project.id, Scan.sha256 == digest)
            if session.exec(same).first() is None:
                storage.delete(key)

    after_rollback(session, remove_files)
    rows: list[tuple[_Page, Scan]] = []
    try:
        for item in checked:
            for page in item.pages:
                scan = Scan(
                    project_id=project_id,
                    sha256=item.file.sha256,
                    filename=item.file.filename[:255],
                    media_type=item.media_type,
                    size_bytes=item.file.size,
                    page_index=page.index,
                    page_count=len(item.pages),
                    width=page.width,
                    height=page.height,
                )
                session.add(scan)
                rows.append((page, scan))
        session.flush()  # assigns the ids the file keys are built from; a racing upload of the same file fails here
    except IntegrityError:
        raise conflict("This file was just uploaded to this project by another request.", "duplicate_upload") from None
    for item in checked:
        key = original_key(project_id, item.file.sha256)
        originals.append((item.file.sha256, key))
        storage.adopt(key, item.file.path)
    for page, scan in rows:
        if page.image is not None:
            page_files.append(page_image_key(scan))
            storage.adopt(page_image_key(scan), page.image)
        page_files.append(thumbnail_key(scan))
        storage.adopt(thumbnail_key(scan), page.thumbnail)
    return [scan for _, scan in rows]


def list_scans(session: Session, project: Project, page: Page = FIRST_PAGE) -> list[Scan]:
    return list(session.exec(page.apply(select(Scan).where(Scan.project_id == project.id).order_by(col(Scan.id)))))


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
    """The page as an 8-bit grayscale array at full size (scan.width x scan.height: cut-outs, the page image)."""
    return _load_page(storage, settings, scan, None).gray


def load_page_for_extraction(storage: FileStorage, settings: Settings, scan: Scan) -> PageImage:
    """The page as the extraction reads it: a large JPEG decoded at reduced scale (libjpeg's DCT scaling, while
    its long side stays >= params.DECODE_MIN_LONG_SIDE), anything else at full size. Its pixels are page.scale
    full-size pixels each: extraction.service.extract_in_page_pixels maps coordinates to and from the full page."""
    return _load_page(storage, settings, scan, params.DECODE_MIN_LONG_SIDE)


def _load_page(storage: FileStorage, settings: Settings, scan: Scan, reduce_to_long_side: int | None) -> PageImage:
    data = storage.read(page_image_key(scan))
    file = decode_file(
        data,
        max_pixels=settings.max_page_pixels,
        max_pages=settings.max_pdf_pages,
        pdf_dpi=settings.pdf_render_dpi,
        reduce_to_long_side=reduce_to_long_side,
    )
    return file.pages[0]


def delete_scan(session: Session, storage: FileStorage, scan: Scan) -> None:
    keys = [thumbnail_key(scan), preview_key(scan), scan_key(scan, "page.png")]
    shares_original = session.exec(
        select(Scan.id).where(Scan.project_id == scan.project_id, Scan.sha256 == scan.sha256, Scan.id != scan.id)
    ).first()
    if shares_original is None:
        keys.append(original_key(scan.project_id, scan.sha256))
    session.delete(scan)
    session.flush()

    def remove_files() -> None:  # once the rows are gone for good
        for key in keys:
            storage.delete(key)

    after_commit(session, remove_files)


def to_public(scan: Scan) -> ScanPublic:
    base = f"/api/projects/{scan.project_id}/scans/{scan.id}"
    return ScanPublic(
        **scan.model_dump(),
        original_url=f"{base}/original",
        thumbnail_url=f"{base}/thumbnail",
        preview_url=f"{base}/preview" if scan.status == "extracted" else None,
    )


PAGE_IMAGE_SIDE = 1600  # the page shown to place the grid's corners by hand: a cell stays >= ~40 px
MIN_GRID_FRACTION = 0.02  # of the page's area: a smaller "grid" is a slip of the finger, not 600 cells


def page_jpeg(storage: FileStorage, settings: Settings, scan: Scan) -> bytes:
    """The page (as the extraction sees it) at most PAGE_IMAGE_SIDE on its long side, as JPEG."""
    return encode_jpeg(downscale_to(load_page_gray(storage, settings, scan), PAGE_IMAGE_SIDE), 85)


def set_manual_corners(session: Session, scan: Scan, corners: list[list[float]] | None) -> Scan:
    """Store (or with None, forget) the grid's corners placed by hand; the next extraction of the page uses them."""
    if corners is not None:
        _check_corners(corners, scan.width, scan.height)
        scan.manual_corners = [[round(float(x), 1), round(float(y), 1)] for x, y in corners]
    else:
        scan.manual_corners = None
    session.add(scan)
    return scan


def _check_corners(corners: list[list[float]], width: int, height: int) -> None:
    points = np.array(corners, dtype=np.float64)
    if (
        not np.isfinite(points).all()
        or (points < -0.5).any()
        or (points[:, 0] > width - 0.5).any()
        or (points[:, 1] > height - 0.5).any()
    ):
        raise invalid("Each corner must lie on the page.", "bad_corners")
    # The grid's TL TR BR BL, convex: every turn has the same sign. Clockwise on screen (y down) on an upright
    # page; counter-clockwise where a scanner mirrored the page (its grid's left edge is on the right), as the
    # extraction itself reports such a page's corners.
    edges = np.roll(points, -1, axis=0) - points
    turns = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    area = 0.5 * float(np.sum(points[:, 0] * np.roll(points[:, 1], -1) - np.roll(points[:, 0], -1) * points[:, 1]))
    one_way = (turns > 0).all() or (turns < 0).all()
    if not one_way or abs(area) < MIN_GRID_FRACTION * width * height:
        raise invalid(
            "The corners must be the grid's top-left, top-right, bottom-right and bottom-left corner, in this order.",
            "bad_corners",
        )


def cell_cutout_png(storage: FileStorage, settings: Settings, scan: Scan, row: int, col: int) -> bytes:
    """One cell of an extracted page as it is on the page (with a margin of its neighbours), as PNG."""
    if scan.corners is None:
        raise not_found("The cut-out (the page has not been extracted)")
    gray = load_page_gray(storage, settings, scan)
    return encode_png(cell_cutout(gray, np.array(scan.corners, dtype=np.float64), row, col))
