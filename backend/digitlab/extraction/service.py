"""Starting extraction jobs, and applying one page's extraction result to the database."""

from sqlmodel import Session, delete, select

from digitlab.api.errors import invalid, not_found
from digitlab.core.models import utcnow
from digitlab.datasets.models import Cell
from digitlab.jobs import service as jobs_service
from digitlab.jobs.models import Job
from digitlab.jobs.runner import JobRunner
from digitlab.pipeline import PageExtraction
from digitlab.projects.models import Project
from digitlab.scans.models import Scan

KIND = "extraction"


def start(session: Session, runner: JobRunner, project: Project, scan_ids: list[int] | None) -> Job:
    scans = session.exec(select(Scan.id).where(Scan.project_id == project.id).order_by(Scan.id)).all()
    if scan_ids is None:
        if not scans:
            raise invalid("This project has no scans yet. Upload a scan first.", "no_scans")
        scan_ids = list(scans)
    else:
        unknown = sorted(set(scan_ids) - set(scans))
        if unknown:
            raise not_found(f"Scan {unknown[0]}")
        scan_ids = sorted(set(scan_ids))
    return jobs_service.enqueue(session, runner, project, KIND, {"scan_ids": scan_ids})


def _lock_scan(session: Session, scan: Scan) -> None:
    # Two extractions of one page may overlap (a double click); on PostgreSQL each would otherwise
    # delete only the cells it can see and both sets would survive. SQLite has one writer anyway.
    session.exec(select(Scan.id).where(Scan.id == scan.id).with_for_update())


def store_page_result(session: Session, scan: Scan, extraction: PageExtraction) -> None:
    """Replace the scan's cells with this extraction's, in the caller's transaction."""
    _lock_scan(session, scan)
    session.exec(delete(Cell).where(Cell.scan_id == scan.id))
    session.add_all([
        Cell(project_id=scan.project_id, scan_id=scan.id, source="scan", row=cell.row, col=cell.col,
             label=cell.label, original_label=cell.label, status=cell.status, reason=cell.reason,
             included=cell.status == "kept",
             image=None if cell.image is None else cell.image.astype("uint8").tobytes())
        for cell in extraction.cells
    ])
    scan.status, scan.error = "extracted", None
    scan.corners = [[round(float(x), 1), round(float(y), 1)] for x, y in extraction.corners]
    scan.kept_count = sum(cell.status == "kept" for cell in extraction.cells)
    scan.blank_count = sum(cell.status == "blank" for cell in extraction.cells)
    scan.rejected_count = sum(cell.status == "rejected" for cell in extraction.cells)
    scan.extracted_at = utcnow()
    session.add(scan)


def store_page_failure(session: Session, scan: Scan, reason: str) -> None:
    _lock_scan(session, scan)
    session.exec(delete(Cell).where(Cell.scan_id == scan.id))
    scan.status, scan.error, scan.corners = "failed", reason, None
    scan.kept_count = scan.blank_count = scan.rejected_count = 0
    scan.extracted_at = utcnow()
    session.add(scan)
