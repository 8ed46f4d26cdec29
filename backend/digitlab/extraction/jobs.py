"""The extraction job: runs in a worker process, one page at a time, each page committed on its own."""

from digitlab.extraction import service
from digitlab.jobs.context import JobContext
from digitlab.jobs.worker import JobError
from digitlab.pipeline import GridNotFound, extract_page
from digitlab.pipeline.decode import ImageRejected
from digitlab.pipeline.imageio import encode_jpeg
from digitlab.projects.models import Project
from digitlab.scans import service as scans_service
from digitlab.scans.models import Scan


def run_extraction(ctx: JobContext) -> dict:
    scan_ids: list[int] = ctx.params["scan_ids"]
    pages = []
    with ctx.session() as session:
        labels = session.get(Project, ctx.project_id).labels
    for index, scan_id in enumerate(scan_ids):
        ctx.progress(index / len(scan_ids), f"Page {index + 1} of {len(scan_ids)}", force=True)
        with ctx.session() as session:
            scan = session.get(Scan, scan_id)
            if scan is None:  # deleted while the job was queued
                pages.append({"scan_id": scan_id, "status": "failed", "error": "The scan was deleted."})
                continue
            pages.append(_extract_one(ctx, session, scan, labels))
            session.commit()
    if pages and all(page["status"] == "failed" for page in pages):
        raise JobError("No page could be extracted: " + "; ".join(p["error"] for p in pages))
    return {
        "pages": pages,
        "kept": sum(p.get("kept", 0) for p in pages),
        "failed_pages": sum(p["status"] == "failed" for p in pages),
    }


def _extract_one(ctx: JobContext, session, scan: Scan, labels: list[str]) -> dict:  # noqa: ANN001
    page = {"scan_id": scan.id, "filename": scan.filename, "page_index": scan.page_index}
    try:
        gray = scans_service.load_page_gray(ctx.storage, ctx.settings, scan)
        extraction = extract_page(gray, labels)
    except (GridNotFound, ImageRejected) as exc:
        reason = exc.message if isinstance(exc, ImageRejected) else str(exc)
        service.store_page_failure(session, scan, reason)
        ctx.storage.delete(scans_service.preview_key(scan))
        return {**page, "status": "failed", "error": reason, "corners": None}
    ctx.storage.write(scans_service.preview_key(scan), encode_jpeg(extraction.preview))
    service.store_page_result(session, scan, extraction)
    return {**page, "status": "ok", "error": None, "corners": scan.corners, "kept": scan.kept_count,
            "blank": scan.blank_count, "rejected": scan.rejected_count,
            "preview_url": f"/api/projects/{scan.project_id}/scans/{scan.id}/preview"}
