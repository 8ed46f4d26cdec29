"""Extraction jobs through the API: per-page results, cells and labels, re-extraction, failures, cancelling.

One module-scoped service runs the main extraction once (jobs cost a process spawn each); the tests read it.
"""

import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from digitlab.main import create_app
from digitlab.pipeline.template import COLUMNS, ROWS
from tests.api import scanpages
from tests.api.helpers import (
    all_cells,
    decode_image,
    new_project,
    new_user,
    start_extraction,
    upload_files,
)
from tests.conftest import make_settings, wait_for_job

try:  # the pipeline's realistic synthetic scans (handwriting, perspective, lighting), when present
    from tests.pipeline import synth
except ImportError:  # pragma: no cover
    synth = None

LABELS = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]


def page_as_pdf(gray) -> bytes:
    """The page image placed full-size on an A4 PDF page (what a scanner's "save as PDF" produces)."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    pdf.drawImage(ImageReader(Image.fromarray(gray)), 0, 0, width=A4[0], height=A4[1])
    pdf.showPage()
    pdf.save()
    return out.getvalue()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("extraction") / "data")
    with TestClient(create_app(settings)) as client:
        user = new_user(client, "emma")
        project = new_project(client, user, "Zahlen", LABELS)
        written = scanpages.default_cells(seed=1)
        pdf_written = scanpages.default_cells(seed=2)
        grid, noise, pdf_page = upload_files(
            client, user, project["id"],
            ("sheet.png", scanpages.png(scanpages.grid_page(written, seed=1))),
            ("holiday.jpg", scanpages.jpeg(scanpages.noise_page())),
            ("sheet.pdf", page_as_pdf(scanpages.grid_page(pdf_written, seed=2))),
        )
        photo = photo_page = None
        if synth is not None:
            photo = synth.phone_photo(synth.render_sheet(dpi=150, seed=3), seed=3)
            [photo_page] = upload_files(client, user, project["id"], ("IMG_0001.jpg", scanpages.jpeg(photo.gray, 85)))
        job = start_extraction(client, user, project["id"])
        assert job["status"] in ("queued", "running")
        assert job["kind"] == "extraction"
        yield SimpleNamespace(client=client, user=user, project=project, settings=settings, grid=grid,
                              noise=noise, pdf=pdf_page, written=written, pdf_written=pdf_written,
                              photo=photo, photo_page=photo_page, job=wait_for_job(client, user, job["id"]))


def get(lab, url):
    response = lab.client.get(url, headers=lab.user.headers)
    assert response.status_code == 200, (url, response.text)
    return response


def pages_by_scan(job) -> dict[int, dict]:
    return {page["scan_id"]: page for page in job["result"]["pages"]}


def expected_corners(width: int, height: int) -> list[tuple[float, float]]:
    """TL, TR, BR, BL of the drawn grid, scaled to a page of width x height pixels."""
    left, top, cell = scanpages.grid_geometry()
    page_w = scanpages.px(210)
    s = width / page_w
    right, bottom = left + COLUMNS * cell, top + ROWS * cell
    return [(left * s, top * s), (right * s, top * s), (right * s, bottom * s), (left * s, bottom * s)]


def test_job_reports_every_page(lab):
    job = lab.job
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and job["finished_at"] is not None
    pages = pages_by_scan(job)
    scans = [lab.grid, lab.noise, lab.pdf] + ([lab.photo_page] if lab.photo_page else [])
    assert set(pages) == {scan["id"] for scan in scans}
    for scan in (lab.grid, lab.pdf):
        page = pages[scan["id"]]
        assert page["status"] == "ok" and page["error"] is None
        assert page["kept"] > 0
        corners = page["corners"]
        assert len(corners) == 4 and all(len(point) == 2 for point in corners)
        for (x, y), (ex, ey) in zip(corners, expected_corners(scan["width"], scan["height"])):
            tolerance = 0.01 * scan["width"]
            assert abs(x - ex) < tolerance and abs(y - ey) < tolerance, (corners, scan["width"])
        preview = lab.client.get(page["preview_url"], headers=lab.user.headers)
        assert preview.status_code == 200
        assert preview.headers["content-type"] == "image/jpeg"
        assert decode_image(preview.content).size > 0
    failed = pages[lab.noise["id"]]
    assert failed["status"] == "failed"
    assert isinstance(failed["error"], str) and len(failed["error"]) > 10
    assert job["result"]["failed_pages"] == 1
    assert job["result"]["kept"] == sum(page.get("kept", 0) for page in pages.values())


def test_scans_show_their_extraction(lab):
    base = f"/api/projects/{lab.project['id']}/scans"
    pages = pages_by_scan(lab.job)
    grid = get(lab, f"{base}/{lab.grid['id']}").json()
    assert grid["status"] == "extracted" and grid["error"] is None
    assert grid["corners"] == pages[grid["id"]]["corners"]
    assert grid["kept_count"] == pages[grid["id"]]["kept"]
    assert grid["kept_count"] + grid["blank_count"] + grid["rejected_count"] == COLUMNS * ROWS
    assert grid["preview_url"] is not None
    assert get(lab, grid["preview_url"]).content.startswith(b"\xff\xd8")

    noise = get(lab, f"{base}/{lab.noise['id']}").json()
    assert noise["status"] == "failed"
    assert noise["error"] == pages[noise["id"]]["error"]
    assert noise["corners"] is None and noise["kept_count"] == 0
    # A link the frontend shows must work: either no preview link, or one that serves an image.
    if noise["preview_url"] is not None:
        response = lab.client.get(noise["preview_url"], headers=lab.user.headers)
        assert response.status_code == 200, f"preview_url of a failed page answers {response.status_code}"


def test_cells_carry_the_label_of_their_row(lab):
    cells = all_cells(lab.client, lab.user, lab.project["id"])
    for scan, written in ((lab.grid, lab.written), (lab.pdf, lab.pdf_written)):
        mine = [c for c in cells if c["scan_id"] == scan["id"]]
        assert sorted((c["row"], c["col"]) for c in mine) == [(r, c) for r in range(ROWS) for c in range(COLUMNS)]
        for cell in mine:
            assert cell["label"] == cell["original_label"] == LABELS[cell["row"] // 3], cell
        kept = {(c["row"], c["col"]) for c in mine if c["status"] == "kept"}
        assert kept <= written, f"blank cells kept: {sorted(kept - written)[:5]}"
        assert len(kept) >= 0.9 * len(written), f"only {len(kept)} of {len(written)} written digits kept"
        for cell in mine:
            if (cell["row"], cell["col"]) not in written:
                assert cell["status"] in ("blank", "rejected")
            if cell["status"] == "kept":
                assert cell["included"] and cell["image"].startswith("data:image/png;base64,")
            if cell["status"] == "blank":
                assert cell["image"] is None and not cell["included"]


def test_dataset_summary_matches_the_cells(lab):
    summary = get(lab, f"/api/projects/{lab.project['id']}/dataset").json()
    cells = all_cells(lab.client, lab.user, lab.project["id"], which="included")
    assert summary["total"] == len(cells) == lab.job["result"]["kept"]
    assert [entry["label"] for entry in summary["labels"]] == LABELS
    for entry in summary["labels"]:
        assert entry["included"] == sum(c["label"] == entry["label"] for c in cells)
        assert entry["included"] > 0  # every label was written on the sheets
    project = get(lab, f"/api/projects/{lab.project['id']}").json()
    assert project["sample_count"] == summary["total"]
    assert project["scan_count"] == (4 if lab.photo_page else 3)


def test_phone_photo_through_the_api(lab):
    if lab.photo is None:
        pytest.skip("tests/pipeline/synth.py is not there")
    page = pages_by_scan(lab.job)[lab.photo_page["id"]]
    assert page["status"] == "ok", page
    tolerance = 0.01 * lab.photo_page["width"]
    for (x, y), (tx, ty) in zip(page["corners"], lab.photo.corners.tolist()):
        assert abs(x - tx) < tolerance and abs(y - ty) < tolerance, (page["corners"], lab.photo.corners)
    cells = [c for c in all_cells(lab.client, lab.user, lab.project["id"]) if c["scan_id"] == lab.photo_page["id"]]
    written = {i for i, kind in enumerate(lab.photo.truth) if kind == synth.DIGIT}
    kept = {c["row"] * COLUMNS + c["col"] for c in cells if c["status"] == "kept"}
    assert len(kept & written) >= 0.9 * len(written)
    assert len(kept - written) <= 0.02 * len(kept)
    assert all(c["label"] == LABELS[c["row"] // 3] for c in cells)


def test_a_blank_cell_cannot_be_included(lab):
    blank = lab.client.get(f"/api/projects/{lab.project['id']}/dataset/cells", headers=lab.user.headers,
                           params={"which": "blank", "limit": 1}).json()["items"][0]
    assert blank["image"] is None
    url = f"/api/projects/{lab.project['id']}/dataset/cells/{blank['id']}"
    response = lab.client.patch(url, json={"included": True}, headers=lab.user.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "empty_cell"
    assert lab.client.get(url + "/image.png", headers=lab.user.headers).status_code == 404


def test_labels_are_locked_after_extraction(lab):
    response = lab.client.patch(f"/api/projects/{lab.project['id']}", json={"labels": [str(i) for i in range(10)]},
                                headers=lab.user.headers)
    assert response.status_code == 409


def test_finished_job_cannot_be_cancelled(lab):
    response = lab.client.post(f"/api/jobs/{lab.job['id']}/cancel", headers=lab.user.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "job_finished"
    assert get(lab, f"/api/jobs/{lab.job['id']}").json()["status"] == "succeeded"


def test_unknown_scan_id_is_404_and_starts_nothing(lab):
    jobs_url = f"/api/projects/{lab.project['id']}/jobs"
    before = get(lab, jobs_url).json()
    response = lab.client.post(f"/api/projects/{lab.project['id']}/extractions",
                               json={"scan_ids": [lab.grid["id"], 987654]}, headers=lab.user.headers)
    assert response.status_code == 404
    assert "987654" in response.json()["detail"]
    assert get(lab, jobs_url).json() == before


def test_extraction_needs_scans(lab):
    empty = new_project(lab.client, lab.user, "empty")
    url = f"/api/projects/{empty['id']}/extractions"
    response = lab.client.post(url, json={}, headers=lab.user.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "no_scans"
    assert lab.client.post(url, json={"scan_ids": []}, headers=lab.user.headers).status_code == 422
    # A scan of another project is not "in" this one.
    response = lab.client.post(url, json={"scan_ids": [lab.grid["id"]]}, headers=lab.user.headers)
    assert response.status_code == 404
    assert get(lab, f"/api/projects/{empty['id']}/jobs").json() == []


def test_reextraction_replaces_the_cells(lab):
    project_id = lab.project["id"]
    before = all_cells(lab.client, lab.user, project_id)
    summary_before = get(lab, f"/api/projects/{project_id}/dataset").json()
    job = start_extraction(lab.client, lab.user, project_id, [lab.grid["id"]])
    assert job["params"]["scan_ids"] == [lab.grid["id"]]
    done = wait_for_job(lab.client, lab.user, job["id"])
    assert done["status"] == "succeeded", done
    assert [p["scan_id"] for p in done["result"]["pages"]] == [lab.grid["id"]]
    after = all_cells(lab.client, lab.user, project_id)
    assert len(after) == len(before)
    assert get(lab, f"/api/projects/{project_id}/dataset").json() == summary_before
    old_ids = {c["id"] for c in before if c["scan_id"] == lab.grid["id"]}
    assert not old_ids & {c["id"] for c in after}  # the old cells are gone, not kept beside the new ones
    # Cells of the page that was not extracted again are untouched.
    assert ([c for c in before if c["scan_id"] == lab.pdf["id"]]
            == [c for c in after if c["scan_id"] == lab.pdf["id"]])


def test_jobs_are_listed_per_project_newest_first(lab):
    jobs = get(lab, f"/api/projects/{lab.project['id']}/jobs").json()
    assert lab.job["id"] in [j["id"] for j in jobs]
    assert [j["id"] for j in jobs] == sorted((j["id"] for j in jobs), reverse=True)
    assert {j["project_id"] for j in jobs} == {lab.project["id"]}
    assert get(lab, f"/api/projects/{lab.project['id']}/jobs?kind=extraction").json() == jobs
    assert get(lab, f"/api/projects/{lab.project['id']}/jobs?kind=training").json() == []
    other = new_project(lab.client, lab.user, "other")
    assert get(lab, f"/api/projects/{other['id']}/jobs").json() == []


@pytest.mark.slow
def test_a_job_whose_only_page_has_no_grid_fails_with_the_reason(client, alice, make_project):
    project = make_project(alice)
    [scan] = upload_files(client, alice, project["id"], ("wall.png", scanpages.png(scanpages.noise_page(seed=5))))
    job = wait_for_job(client, alice, start_extraction(client, alice, project["id"])["id"])
    assert job["status"] == "failed"
    assert job["error"]
    scan = client.get(f"/api/projects/{project['id']}/scans/{scan['id']}", headers=alice.headers).json()
    assert scan["status"] == "failed" and scan["error"]
    assert scan["error"] in job["error"]
    # The same reason as a code from the one list (the web app says it in the student's language).
    codes = json.loads((Path(__file__).parents[2] / "shared/schemas/error-codes.json").read_text())["codes"]
    assert scan["error_code"] in codes and scan["error_code"].startswith(("page_", "grid_", "no_"))

