"""Corners placed by hand: a page whose grid is not found gets its four corners from the student, and extracts."""

import base64

import numpy as np
import pytest

from tests.api import scanpages
from tests.api.helpers import all_cells, decode_image, start_extraction, upload_files
from tests.conftest import wait_for_job


def extract(client, user, project_id: int, scan_id: int) -> dict:
    job = wait_for_job(client, user, start_extraction(client, user, project_id, [scan_id])["id"])
    scan = client.get(f"/api/projects/{project_id}/scans/{scan_id}", headers=user.headers)
    return {"job": job, "scan": scan.json()}


@pytest.fixture
def uploaded(client, alice, make_project):
    page, corners, written = scanpages.damaged_page()
    project = make_project(alice)
    [scan] = upload_files(client, alice, project["id"], ("folded.png", scanpages.png(page)))
    return project, scan, corners, written


@pytest.fixture
def failed_scan(client, alice, uploaded):
    project, scan, corners, written = uploaded
    result = extract(client, alice, project["id"], scan["id"])
    assert result["scan"]["status"] == "failed" and result["scan"]["error"]
    return project, result["scan"], corners, written


def test_corners_placed_by_hand_extract_the_page(client, alice, failed_scan) -> None:
    project, scan, corners, written = failed_scan
    base = f"/api/projects/{project['id']}/scans/{scan['id']}"
    # The page to place them on: the page as the extraction sees it, at most 1600 px on its long side.
    image = client.get(f"{base}/page", headers=alice.headers)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    shown = decode_image(image.content)
    assert max(shown.shape) <= 1600 and shown.shape[0] / shown.shape[1] == pytest.approx(
        scan["height"] / scan["width"], rel=0.01
    )
    # A student's corners are a few pixels off.
    placed = (np.array(corners) + np.random.default_rng(1).uniform(-4, 4, (4, 2))).tolist()
    response = client.put(f"{base}/corners", json={"corners": placed}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["manual_corners"] == [[round(x, 1), round(y, 1)] for x, y in placed]

    result = extract(client, alice, project["id"], scan["id"])
    assert result["scan"]["status"] == "extracted", result
    assert result["scan"]["kept_count"] >= 0.95 * written
    assert np.abs(np.array(result["scan"]["corners"]) - np.array(corners)).max() <= 5
    assert client.get(result["scan"]["preview_url"], headers=alice.headers).status_code == 200

    # Per cell, why: this page's 600 cells with their decisions, and a cell's cut-out as it is on the page.
    cells = client.get(
        f"/api/projects/{project['id']}/dataset/cells",
        headers=alice.headers,
        params={"scan_id": scan["id"], "which": "all", "limit": 1000},
    ).json()
    assert cells["total"] == 600 and {c["scan_id"] for c in cells["items"]} == {scan["id"]}
    kept = next(c for c in cells["items"] if c["status"] == "kept")
    cutout = client.get(f"{base}/cutout", params={"row": kept["row"], "col": kept["col"]}, headers=alice.headers)
    assert cutout.status_code == 200 and cutout.headers["content-type"] == "image/png"
    pixels = decode_image(cutout.content)
    assert pixels.shape == (112, 112) and pixels[28:84, 28:84].min() < 128  # the written digit, in the middle
    blank = next(c for c in cells["items"] if c["status"] == "blank" and not 12 <= c["row"] < 20)
    empty = decode_image(
        client.get(f"{base}/cutout", params={"row": blank["row"], "col": blank["col"]}, headers=alice.headers).content
    )
    assert empty[32:80, 32:80].min() > 200  # paper only (the grid lines are outside the cell's middle)

    # Forgetting them: the next extraction searches again (and fails again on this page).
    cleared = client.put(f"{base}/corners", json={"corners": None}, headers=alice.headers)
    assert cleared.status_code == 200 and cleared.json()["manual_corners"] is None
    assert extract(client, alice, project["id"], scan["id"])["scan"]["status"] == "failed"


def test_a_mirrored_page_takes_its_corners_mirrored(client, alice, make_project) -> None:
    """A scanner mirrored the page: the grid's top-left corner is on the right, so the corners run
    counter-clockwise on screen (as the extraction reports them for such a page). They are accepted, and the
    samples come out the right way round, the same as from the page itself."""
    page, corners, written = scanpages.damaged_page()
    width = page.shape[1]
    project = make_project(alice)
    [upright, mirrored] = upload_files(client, alice, project["id"], ("upright.png", scanpages.png(page)),
                                       ("mirrored.png", scanpages.png(np.ascontiguousarray(page[:, ::-1]))))
    for scan, placed in ((upright, corners), (mirrored, [[width - 1 - x, y] for x, y in corners])):
        base = f"/api/projects/{project['id']}/scans/{scan['id']}"
        response = client.put(f"{base}/corners", json={"corners": placed}, headers=alice.headers)
        assert response.status_code == 200, response.text
        assert extract(client, alice, project["id"], scan["id"])["scan"]["status"] == "extracted"
    samples = {}
    for cell in all_cells(client, alice, project["id"]):
        if cell["status"] == "kept":
            png = base64.b64decode(cell["image"].partition(",")[2])
            samples.setdefault(cell["scan_id"], {})[(cell["row"], cell["col"])] = decode_image(png)
    assert len(samples[upright["id"]]) == len(samples[mirrored["id"]]) >= 0.95 * written
    for place, sample in samples[upright["id"]].items():
        assert np.abs(sample.astype(int) - samples[mirrored["id"]][place].astype(int)).mean() < 2, place


def test_a_page_not_extracted_has_no_cutouts(client, alice, uploaded) -> None:
    project, scan, _, _ = uploaded
    response = client.get(f"/api/projects/{project['id']}/scans/{scan['id']}/cutout", headers=alice.headers)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("corners", "code"),
    [
        pytest.param([[100, 100], [1100, 100], [1100, 1500], [1000, 200]], "bad_corners", id="not-convex"),
        pytest.param([[100, 100], [1100, 1500], [1100, 100], [100, 1500]], "bad_corners", id="crossed"),
        pytest.param([[100, 100], [140, 100], [140, 140], [100, 140]], "bad_corners", id="tiny"),
        pytest.param([[-50, 100], [1100, 100], [1100, 1500], [100, 1500]], "bad_corners", id="off-the-page"),
        pytest.param([[100, 100], [1100, 100], [1100, 1500]], "validation_error", id="three"),
    ],
)
def test_bad_corners_are_refused(client, alice, uploaded, corners, code) -> None:
    project, scan, _, _ = uploaded
    response = client.put(
        f"/api/projects/{project['id']}/scans/{scan['id']}/corners", json={"corners": corners}, headers=alice.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    stored = client.get(f"/api/projects/{project['id']}/scans/{scan['id']}", headers=alice.headers).json()
    assert stored["manual_corners"] is None
