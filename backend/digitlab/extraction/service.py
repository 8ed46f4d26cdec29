"""Starting extraction jobs, and applying one page's extraction result to the database."""

from collections.abc import Sequence
from typing import cast

import numpy as np
from sqlalchemy import insert
from sqlmodel import Session, col, delete, select

from digitlab.core.clock import utcnow
from digitlab.core.errors import invalid, not_found
from digitlab.datasets.tables import Cell
from digitlab.jobs import service as jobs_service
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.tables import Job
from digitlab.pipeline import CellStatus, PageExtraction, extract_page
from digitlab.pipeline.decode import PageImage
from digitlab.pipeline.flatfield import to_full, to_small
from digitlab.pipeline.sheet import SheetReading
from digitlab.projects.tables import Project
from digitlab.scans.tables import Scan, ScanStatus

KIND = "extraction"


def start(session: Session, runner: JobRunner, project: Project, scan_ids: list[int] | None) -> Job:
    # Stored rows' ids are never NULL (SQLModel types ids `int | None` for objects that are not flushed yet).
    scans = cast(
        Sequence[int], session.exec(select(Scan.id).where(Scan.project_id == project.id).order_by(col(Scan.id))).all()
    )
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


def extract_in_page_pixels(
    page: PageImage, labels: list[str], reading: SheetReading, manual_corners: list | None
) -> PageExtraction:
    """extract_page on a page decoded at reduced scale (scans.service.load_page_for_extraction), with its
    coordinates in the full page's pixels (scan.width x height), like everything else the service stores and
    shows: the corners placed by hand (validated against the full page) go in scaled down, the grid's corners
    found come out scaled up. The one place where the extraction's pixels and the page's meet; `reading` is
    read_sheet's on page.gray (its pose never leaves the extraction)."""
    corners = None if manual_corners is None else to_small(np.array(manual_corners, dtype=np.float64), page.scale)
    extraction = extract_page(page.gray, labels, reading=reading, corners=corners)
    if page.scale != 1:
        full = to_full(np.array(extraction.corners, dtype=np.float64), page.scale)
        extraction.corners = [(float(x), float(y)) for x, y in full]
    return extraction


def _lock_scan(session: Session, scan: Scan) -> None:
    # Two extractions of one page may overlap (a double click); on PostgreSQL each would otherwise
    # delete only the cells it can see and both sets would survive. SQLite has one writer anyway.
    session.exec(select(Scan.id).where(Scan.id == scan.id).with_for_update())


def store_page_result(session: Session, scan: Scan, extraction: PageExtraction) -> None:
    """Replace the scan's cells with this extraction's, in the caller's transaction."""
    _lock_scan(session, scan)
    session.exec(delete(Cell).where(col(Cell.scan_id) == scan.id))
    # One multi-row INSERT of plain rows: building and flushing 600 ORM objects cost a warm extraction process
    # as much CPU as finding the cells (measured with a class of 30), while the class waited for its samples.
    rows = [
        {
            "project_id": scan.project_id,
            "scan_id": scan.id,
            "source": "scan",
            "row": cell.row,
            "col": cell.col,
            "label": cell.label,
            "original_label": cell.label,
            "status": cell.status,
            "reason": cell.reason,
            "included": cell.status == CellStatus.KEPT,
            "image": None if cell.image is None else cell.image.astype("uint8").tobytes(),
        }
        for cell in extraction.cells
    ]
    if rows:
        session.exec(insert(Cell), params=rows)
    scan.status, scan.error, scan.error_code, scan.error_params = ScanStatus.EXTRACTED, None, None, None
    scan.corners = [[round(float(x), 1), round(float(y), 1)] for x, y in extraction.corners]
    scan.kept_count = extraction.kept_count
    scan.blank_count = extraction.blank_count
    scan.rejected_count = extraction.rejected_count
    scan.extracted_at = utcnow()
    session.add(scan)


def store_page_failure(session: Session, scan: Scan, reason: str, code: str, params: dict) -> None:
    _lock_scan(session, scan)
    session.exec(delete(Cell).where(col(Cell.scan_id) == scan.id))
    scan.status, scan.error, scan.corners = ScanStatus.FAILED, reason, None
    scan.error_code, scan.error_params = code, params or None
    scan.kept_count = scan.blank_count = scan.rejected_count = 0
    scan.extracted_at = utcnow()
    session.add(scan)
