"""Bulk scans from the school copier: a teacher uploads the whole class's sheets at once, each page goes to its
student by the signed code printed on it, and what cannot be routed waits in the class's tray.

A page is routed only when its code verifies (sheets.service: the server signed it) and names a project of a
student of THIS class; it is stored as a scan of that project (the page alone, as a PNG: the student never gets
the rest of the class's PDF) and an extraction starts there. Every other page (no readable code, a made-up or
altered code, a project outside the class, a student whose storage is full) is kept in the tray with its reason,
where a teacher sees it and assigns it to a student's project by hand, or discards it. Nothing is lost and
nothing lands with the wrong student.

Memory stays bounded like a student's upload (scans.service): the files arrive on disk, their headers are checked
first, then one page at a time is decoded, read (markers, code) and written to the staging folder before the next.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from digitlab.auth.tables import User
from digitlab.class_scans.schemas import BulkPage, BulkScanResult, PageOutcome, ScanTarget, UnassignedPagePublic
from digitlab.class_scans.tables import UnassignedPage
from digitlab.classes import service as classes_service
from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
from digitlab.core.config import Settings
from digitlab.core.db import after_commit, after_rollback, stored_id
from digitlab.core.errors import DomainError, ErrorKind, conflict, not_found
from digitlab.core.paging import FIRST_PAGE, Page
from digitlab.core.storage import FileStorage, StagedFile
from digitlab.extraction import service as extraction_service
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.tables import Job
from digitlab.pipeline.decode import ImageRejected
from digitlab.pipeline.imageio import downscale_to, encode_jpeg, encode_png
from digitlab.pipeline.markers import upright
from digitlab.pipeline.sheet import read_sheet
from digitlab.pipeline.sheet_code import SheetCodeRefused, verify_sheet_code
from digitlab.projects.tables import Project
from digitlab.quotas import service as quotas_service
from digitlab.scans import service as scans_service
from digitlab.scans.tables import Scan
from digitlab.sheets import service as sheets_service

MAX_TRAY_PAGES = 300  # per class: a whole class's sheets several times over; beyond, the teacher clears it first
PREVIEW_SIDE = 1600  # the tray's preview: large enough to read a handwritten nickname
PAGE_MEDIA_TYPE = "image/png"

NO_CODE = "no_code"
UNKNOWN_PROJECT = "unknown_project"
NOT_IN_CLASS = "not_in_class"
QUOTA = "quota_exceeded"
# Why a page waits in the tray (besides the code's own refusals, sheet_code.SheetCodeRefused.code).
PROBLEMS = {
    NO_CODE: "No sheet code could be read on this page (an older sheet, or the code is covered, torn or smudged).",
    UNKNOWN_PROJECT: "The code on this page names a project that no longer exists.",
    NOT_IN_CLASS: "This sheet was printed for a project of someone who is not a student of this class.",
    QUOTA: "The student's storage is full, so this page waits here until they have deleted something.",
}


def _tray_key(page: UnassignedPage, name: str) -> str:
    return f"{classes_service.files_prefix(page.class_id)}/unassigned/{page.id}/{name}"


def page_key(page: UnassignedPage) -> str:
    return _tray_key(page, "page.png")


def preview_key(page: UnassignedPage) -> str:
    return _tray_key(page, "preview.jpg")


def thumbnail_key(page: UnassignedPage) -> str:
    return _tray_key(page, "thumbnail.jpg")


def _require_open(school_class: SchoolClass) -> None:
    if school_class.closed_at is not None:
        raise conflict("This class is closed: reopen it to add scans.", "class_closed")


@dataclass
class _StagedPage:
    """One decoded page, written to staging, and where it goes."""

    filename: str
    page_index: int
    width: int
    height: int
    sha256: str
    image: Path  # page.png
    thumbnail: Path
    preview: Path
    project: Project | None  # routed to this project's owner (a student of the class)
    sheet_page: int | None
    problem: str | None
    reason: str | None
    code_project_id: int | None

    @property
    def size(self) -> int:
        return sum(p.stat().st_size for p in (self.image, self.thumbnail, self.preview))


# --- the bulk upload --------------------------------------------------------------------------------------------
def upload(
    session: Session,
    storage: FileStorage,
    settings: Settings,
    runner: JobRunner,
    school_class: SchoolClass,
    teacher: User,
    files: list[StagedFile],
) -> BulkScanResult:
    """Route every page of the files to its student's project or to the tray; all of it, or nothing."""
    _require_open(school_class)
    scans_service.check_upload_limits(settings, files)
    scans_service.check_upload_pages(settings, files)  # headers only: counts and pixels before decoding
    quotas_service.ensure_disk(settings, storage, sum(f.size for f in files))
    students = _students(session, stored_id(school_class))
    key = sheets_service.signing_key(session)
    staged = [page for file in files for page in _stage_pages(session, settings, key, students, file)]
    _route_over_quota_to_tray(session, storage, settings, staged)
    in_tray = session.exec(
        select(func.count()).select_from(UnassignedPage).where(UnassignedPage.class_id == school_class.id)
    ).one()
    if in_tray + sum(page.project is None for page in staged) > MAX_TRAY_PAGES:
        raise DomainError(
            ErrorKind.TOO_LARGE,
            f"The unassigned tray of this class would hold more than {MAX_TRAY_PAGES} pages. Please assign or "
            "discard the pages waiting there first.",
            "tray_full",
        )
    quotas_service.ensure_disk(settings, storage, sum(page.size for page in staged))
    return _store(session, storage, runner, school_class, teacher, students, staged)


def _students(session: Session, class_id: int) -> dict[int, str]:
    """user id -> nickname of the class's students."""
    rows = session.exec(
        select(User.id, User.username)
        .join(ClassMember, col(ClassMember.user_id) == User.id)
        .where(ClassMember.class_id == class_id, ClassMember.role == ClassRole.STUDENT)
    ).all()
    return {user_id: name for user_id, name in rows if user_id is not None}


def _stage_pages(
    session: Session, settings: Settings, key: bytes, students: dict[int, str], file: StagedFile
) -> list[_StagedPage]:
    """Decode the file's pages one at a time: read each page's code, decide where it goes, and write the page,
    its thumbnail and preview to the staging folder before the next page is decoded."""
    out = []
    with scans_service.open_upload(settings, file) as opened:
        for index in range(opened.page_count):
            with scans_service.decode_slot(settings):
                try:
                    gray = opened.page(index).gray
                except ImageRejected as exc:
                    raise scans_service.rejection(
                        exc, f"'{file.filename}': {exc.message}", filename=file.filename
                    ) from None
                reading = read_sheet(gray, search_whole_page=True)
                code = reading.code
                image, thumbnail, preview = (
                    file.path.with_name(f"{file.path.name}.{index}.{suffix}")
                    for suffix in ("png", "thumbnail.jpg", "preview.jpg")
                )
                data = encode_png(gray)
                image.write_bytes(data)
                sha256 = hashlib.sha256(data).hexdigest()
                shown = downscale_to(gray, PREVIEW_SIDE)
                if reading.pose is not None:  # people see the page upright, however it went through the copier
                    shown = upright(shown, reading.pose)
                preview.write_bytes(encode_jpeg(shown, 80))
                thumbnail.write_bytes(encode_jpeg(downscale_to(shown, scans_service.THUMBNAIL_SIDE), 80))
                height, width = gray.shape
                del gray, data, reading, shown  # before the next page is decoded
            staged = _StagedPage(
                filename=file.filename,
                page_index=index,
                width=width,
                height=height,
                sha256=sha256,
                image=image,
                thumbnail=thumbnail,
                preview=preview,
                project=None,
                sheet_page=None,
                problem=None,
                reason=None,
                code_project_id=None,
            )
            _decide(session, key, students, code, staged)
            out.append(staged)
    return out


def _decide(session: Session, key: bytes, students: dict[int, str], code_text: str | None, page: _StagedPage) -> None:
    """Route the page by its code, or say why it waits in the tray."""
    if code_text is None:
        page.problem, page.reason = NO_CODE, PROBLEMS[NO_CODE]
        return
    try:
        code = verify_sheet_code(key, code_text)
    except SheetCodeRefused as exc:
        page.problem, page.reason = exc.code, exc.reason
        return
    page.sheet_page, page.code_project_id = code.page, code.project_id
    project = session.get(Project, code.project_id)
    if project is None:
        page.problem, page.reason = UNKNOWN_PROJECT, PROBLEMS[UNKNOWN_PROJECT]
    elif project.owner_id not in students:
        page.problem, page.reason = NOT_IN_CLASS, PROBLEMS[NOT_IN_CLASS]
    else:
        page.project = project


def _route_over_quota_to_tray(
    session: Session, storage: FileStorage, settings: Settings, staged: list[_StagedPage]
) -> None:
    """A student whose storage cannot take their pages: those pages wait in the tray instead of being refused."""
    by_owner: dict[int, list[_StagedPage]] = {}
    for page in staged:
        if page.project is not None:
            by_owner.setdefault(page.project.owner_id, []).append(page)
    for owner_id, pages in by_owner.items():
        adding = sum(p.image.stat().st_size + p.thumbnail.stat().st_size for p in pages)
        for limit in quotas_service.limits_for(session, storage, settings, owner_id):
            if limit.used_bytes + adding > limit.limit_bytes:
                for page in pages:
                    page.project, page.problem, page.reason = None, QUOTA, PROBLEMS[QUOTA]
                break


def _store(
    session: Session,
    storage: FileStorage,
    runner: JobRunner,
    school_class: SchoolClass,
    teacher: User,
    students: dict[int, str],
    staged: list[_StagedPage],
) -> BulkScanResult:
    """Rows first (their ids name the files), then the staged files renamed into place; if the request's unit of
    work rolls back, the files go again. One extraction job per project that received pages."""
    stored: list[str] = []
    after_rollback(session, lambda: _delete_keys(storage, stored))
    results: list[BulkPage] = []
    routed: dict[int, tuple[Project, list[int]]] = {}  # project id -> (project, new scan ids)
    seen: set[tuple[int | None, str]] = set()  # (project id, or None for the tray; sha256) within this upload
    class_id = stored_id(school_class)
    try:
        for page in staged:
            target = stored_id(page.project) if page.project is not None else None
            if (target, page.sha256) in seen or _already_stored(session, class_id, target, page.sha256):
                results.append(_outcome(page, PageOutcome.ALREADY_STORED, students))
                continue
            seen.add((target, page.sha256))
            if page.project is not None:
                scan = _new_scan(page.project, page, page.image.stat().st_size, page.sheet_page)
                session.add(scan)
                session.flush()  # the id names its files; a racing upload of the same page fails here
                for key, path in (
                    (scans_service.original_key(scan.project_id, page.sha256), page.image),
                    (scans_service.thumbnail_key(scan), page.thumbnail),
                ):
                    storage.adopt(key, path)
                    stored.append(key)
                routed.setdefault(stored_id(page.project), (page.project, []))[1].append(stored_id(scan))
                results.append(_outcome(page, PageOutcome.ROUTED, students, scan_id=stored_id(scan)))
            else:
                waiting = _new_tray_page(class_id, teacher, page)
                session.add(waiting)
                session.flush()
                for key, path in (
                    (page_key(waiting), page.image),
                    (thumbnail_key(waiting), page.thumbnail),
                    (preview_key(waiting), page.preview),
                ):
                    storage.adopt(key, path)
                    stored.append(key)
                results.append(_outcome(page, PageOutcome.UNASSIGNED, students, unassigned_page_id=waiting.id))
    except IntegrityError:
        raise conflict("These pages were just uploaded by another request.", "duplicate_upload") from None
    jobs = {pid: extraction_service.start(session, runner, project, ids) for pid, (project, ids) in routed.items()}
    for result in results:
        if result.outcome == PageOutcome.ROUTED and result.project_id in jobs:
            result.job_id = jobs[result.project_id].id
    return BulkScanResult(
        pages=results,
        routed=sum(r.outcome == PageOutcome.ROUTED for r in results),
        unassigned=sum(r.outcome == PageOutcome.UNASSIGNED for r in results),
        already_stored=sum(r.outcome == PageOutcome.ALREADY_STORED for r in results),
    )


def _delete_keys(storage: FileStorage, keys: list[str]) -> None:
    for key in keys:
        storage.delete(key)


def _already_stored(session: Session, class_id: int, project_id: int | None, sha256: str) -> bool:
    """The same page (same pixels) is already a scan of that project, or already in this class's tray."""
    if project_id is not None:
        query = select(Scan.id).where(Scan.project_id == project_id, Scan.sha256 == sha256)
    else:
        query = select(UnassignedPage.id).where(UnassignedPage.class_id == class_id, UnassignedPage.sha256 == sha256)
    return session.exec(query.limit(1)).first() is not None


def _scan_filename(filename: str, page_index: int) -> str:
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    return f"{stem[:200]}-page-{page_index + 1}.png"


def _new_scan(project: Project, page: _StagedPage | UnassignedPage, size: int, sheet_page: int | None) -> Scan:
    """One page of a bulk upload as a scan of its own: a PNG original (never the class's whole PDF)."""
    return Scan(
        project_id=stored_id(project),
        sha256=page.sha256,
        filename=_scan_filename(page.filename, page.page_index),
        media_type=PAGE_MEDIA_TYPE,
        size_bytes=size,
        page_index=0,
        page_count=1,
        width=page.width,
        height=page.height,
        sheet_page=sheet_page,
    )


def _new_tray_page(class_id: int, teacher: User, page: _StagedPage) -> UnassignedPage:
    assert page.problem is not None and page.reason is not None
    return UnassignedPage(
        class_id=class_id,
        uploaded_by=teacher.id,
        filename=page.filename[:255],
        page_index=page.page_index,
        problem=page.problem,
        reason=page.reason,
        code_project_id=page.code_project_id,
        sheet_page=page.sheet_page,
        sha256=page.sha256,
        width=page.width,
        height=page.height,
        size_bytes=page.size,
    )


def _outcome(
    page: _StagedPage,
    outcome: PageOutcome,
    students: dict[int, str],
    scan_id: int | None = None,
    unassigned_page_id: int | None = None,
) -> BulkPage:
    project = page.project
    return BulkPage(
        filename=page.filename,
        page_index=page.page_index,
        outcome=outcome,
        problem=page.problem,
        reason=page.reason,
        student=students.get(project.owner_id) if project is not None else None,
        project_id=project.id if project is not None else None,
        project_name=project.name if project is not None else None,
        sheet_page=page.sheet_page if project is not None else None,
        scan_id=scan_id,
        job_id=None,
        unassigned_page_id=unassigned_page_id,
    )


# --- the tray -----------------------------------------------------------------------------------------------------
def list_tray(session: Session, school_class: SchoolClass, page: Page = FIRST_PAGE) -> list[UnassignedPage]:
    query = select(UnassignedPage).where(UnassignedPage.class_id == school_class.id)
    return list(session.exec(page.apply(query.order_by(col(UnassignedPage.id)))))


def get_tray_page(session: Session, school_class: SchoolClass, page_id: int) -> UnassignedPage:
    page = session.get(UnassignedPage, page_id)
    if page is None or page.class_id != school_class.id:
        raise not_found("Page")
    return page


def targets(session: Session, school_class: SchoolClass) -> list[ScanTarget]:
    """The projects of the class's students, by nickname then project: where a page may be assigned."""
    rows = session.exec(
        select(Project, User.username)
        .join(User, col(User.id) == Project.owner_id)
        .join(ClassMember, col(ClassMember.user_id) == User.id)
        .where(ClassMember.class_id == school_class.id, ClassMember.role == ClassRole.STUDENT)
        .order_by(col(User.username_key), col(Project.id))
    ).all()
    return [
        ScanTarget(project_id=stored_id(project), project_name=project.name, student_id=project.owner_id, student=name)
        for project, name in rows
    ]


def assign(
    session: Session,
    storage: FileStorage,
    settings: Settings,
    runner: JobRunner,
    school_class: SchoolClass,
    page: UnassignedPage,
    project_id: int,
) -> tuple[Scan, Job]:
    """The teacher's choice: the page becomes a scan of a student's project (of this class) and is extracted
    there. A page whose verified code names another (existing) project cannot be given to this one."""
    _require_open(school_class)
    project = session.get(Project, project_id)
    students = _students(session, stored_id(school_class))
    if project is None or project.owner_id not in students:
        raise not_found("Project")
    if (
        page.code_project_id is not None
        and page.code_project_id != project.id
        and session.get(Project, page.code_project_id) is not None
    ):
        raise conflict(
            "This page's code says it was printed for another project, so it cannot be given to this one.",
            "wrong_project",
        )
    if _already_stored(session, stored_id(school_class), project_id, page.sha256):
        raise conflict("This page is already a scan of that project.", "duplicate_upload")
    image = storage.read(page_key(page))
    thumbnail = storage.read(thumbnail_key(page))
    quotas_service.ensure_room(session, storage, settings, project.owner_id, len(image) + len(thumbnail))
    sheet_page = page.sheet_page if page.code_project_id == project.id else None
    scan = _new_scan(project, page, len(image), sheet_page)
    session.add(scan)
    session.flush()
    written = [scans_service.original_key(project_id, page.sha256), scans_service.thumbnail_key(scan)]
    after_rollback(session, lambda: _delete_keys(storage, written))
    storage.write(written[0], image)
    storage.write(written[1], thumbnail)
    job = extraction_service.start(session, runner, project, [stored_id(scan)])
    discard(session, storage, page)
    return scan, job


def discard(session: Session, storage: FileStorage, page: UnassignedPage) -> None:
    """The page leaves the tray; its files go once that is committed."""
    keys = [page_key(page), preview_key(page), thumbnail_key(page)]
    session.delete(page)
    session.flush()
    after_commit(session, lambda: _delete_keys(storage, keys))


def read_file(storage: FileStorage, key: str) -> bytes:
    if not storage.exists(key):
        raise not_found("Page image")
    return storage.read(key)


def to_public(page: UnassignedPage) -> UnassignedPagePublic:
    base = f"/api/classes/{page.class_id}/unassigned-pages/{page.id}"
    return UnassignedPagePublic(
        id=stored_id(page),
        class_id=page.class_id,
        filename=page.filename,
        page_index=page.page_index,
        problem=page.problem,
        reason=page.reason,
        sheet_page=page.sheet_page,
        width=page.width,
        height=page.height,
        created_at=page.created_at,
        thumbnail_url=f"{base}/thumbnail",
        preview_url=f"{base}/preview",
    )
