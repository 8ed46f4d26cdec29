"""The extraction job: runs in a worker process, one page at a time, each page committed on its own."""

from typing import Any

from sqlmodel import Session

from digitlab.extraction import service
from digitlab.jobs.context import JobContext
from digitlab.jobs.estimates import JobSize
from digitlab.jobs.tables import Job
from digitlab.jobs.worker import JobError
from digitlab.pipeline import GridNotFound
from digitlab.pipeline.decode import ImageRejected
from digitlab.pipeline.imageio import encode_jpeg
from digitlab.pipeline.sheet import read_sheet
from digitlab.projects.tables import Project
from digitlab.scans import service as scans_service
from digitlab.scans.tables import Scan
from digitlab.sheets import service as sheets_service
from digitlab.sheets.service import SheetProblem


def run_extraction(ctx: JobContext) -> dict:
    scan_ids: list[int] = ctx.params["scan_ids"]
    pages: list[dict[str, Any]] = []
    with ctx.unit_of_work() as session:
        project = session.get(Project, ctx.project_id)
        if project is None:  # deleted while the job was queued
            raise JobError("The project was deleted.", "project_deleted")
        labels = project.labels
    for index, scan_id in enumerate(scan_ids):
        ctx.progress(index / len(scan_ids), f"Page {index + 1} of {len(scan_ids)}", force=True)
        with ctx.unit_of_work() as session:  # each page is committed on its own
            scan = session.get(Scan, scan_id)
            if scan is None:  # deleted while the job was queued
                pages.append({"scan_id": scan_id, "status": "failed", "error": "The scan was deleted."})
                continue
            pages.append(_extract_one(ctx, session, scan, labels))
    if pages and all(page["status"] == "failed" for page in pages):
        raise JobError("No page could be extracted: " + "; ".join(p["error"] for p in pages), "no_page_extracted")
    return {
        "pages": pages,
        "kept": sum(p.get("kept", 0) for p in pages),
        "failed_pages": sum(p["status"] == "failed" for p in pages),
    }


def job_sizes(_session: Session, jobs: list[Job]) -> dict[int, JobSize]:
    """An extraction's work is its pages (for the queue's estimates)."""
    return {job.id: JobSize("extraction", float(len(job.params.get("scan_ids") or [None]))) for job in jobs if job.id}


def _extract_one(ctx: JobContext, session, scan: Scan, labels: list[str]) -> dict:
    page = {"scan_id": scan.id, "filename": scan.filename, "page_index": scan.page_index}
    try:
        decoded = scans_service.load_page_for_extraction(ctx.storage, ctx.settings, scan)  # a big JPEG reduced
        reading = read_sheet(decoded.gray)  # a version 2 sheet's corner markers and code, when it has them
        sheets_service.check_page(session, scan, reading)  # another project's page, or a page extracted already
        extraction = service.extract_in_page_pixels(decoded, labels, reading, scan.manual_corners)
    except (GridNotFound, ImageRejected, SheetProblem) as exc:
        reason = exc.message if isinstance(exc, ImageRejected) else str(exc)
        params = exc.params if isinstance(exc, GridNotFound) else {}
        service.store_page_failure(session, scan, reason, exc.code, params)
        ctx.storage.delete(scans_service.preview_key(scan))
        problem = exc.code if isinstance(exc, SheetProblem) else None  # "wrong_project", "duplicate_page"
        return {
            **page,
            "status": "failed",
            "error": reason,
            "error_code": exc.code,
            "error_params": params,
            "corners": None,
            "problem": problem,
        }
    ctx.storage.write(scans_service.preview_key(scan), encode_jpeg(extraction.preview))
    service.store_page_result(session, scan, extraction)
    return {
        **page,
        "status": "ok",
        "error": None,
        "corners": scan.corners,
        "kept": scan.kept_count,
        "blank": scan.blank_count,
        "rejected": scan.rejected_count,
        "sheet_page": scan.sheet_page,
        "preview_url": f"/api/projects/{scan.project_id}/scans/{scan.id}/preview",
    }
