"""A large JPEG page is extracted from a copy decoded at reduced scale (issue 12, "Speed"), with the same result as
the same page as PNG, and every coordinate the service stores, takes and shows in the full page's pixels."""

import base64

import numpy as np
import pytest

from digitlab.pipeline.template import COLUMNS, ROWS
from digitlab.scans import service as scans_service
from digitlab.scans.tables import Scan
from tests.api import scanpages
from tests.api.helpers import all_cells, decode_image, start_extraction, upload_files
from tests.conftest import wait_for_job

DPI = 300  # A4 at 300 dpi: 2480 x 3508, read for the extraction at half size


def true_corners(dpi: int = DPI) -> np.ndarray:
    left, top, cell = scanpages.grid_geometry(dpi)
    right, bottom = left + COLUMNS * cell, top + ROWS * cell
    return np.array([[left, top], [right, top], [right, bottom], [left, bottom]])


def extract(client, user, project_id: int, scan_ids: list[int]) -> dict[int, dict]:
    wait_for_job(client, user, start_extraction(client, user, project_id, scan_ids)["id"], timeout=240)
    return {i: client.get(f"/api/projects/{project_id}/scans/{i}", headers=user.headers).json() for i in scan_ids}


def kept_cells(client, user, project_id: int) -> dict[int, dict[tuple[int, int], tuple[str, np.ndarray]]]:
    """Per scan: (row, col) -> (label, 28 x 28 sample) of every kept cell."""
    kept: dict[int, dict[tuple[int, int], tuple[str, np.ndarray]]] = {}
    for cell in all_cells(client, user, project_id):
        if cell["status"] == "kept":
            sample = decode_image(base64.b64decode(cell["image"].partition(",")[2]))
            kept.setdefault(cell["scan_id"], {})[(cell["row"], cell["col"])] = (cell["label"], sample)
    return kept


def decoded_for_extraction(client, settings, scan: dict):
    row = Scan(id=scan["id"], project_id=scan["project_id"], sha256=scan["sha256"], media_type=scan["media_type"])
    return scans_service.load_page_for_extraction(client.app.state.storage, settings, row)


def assert_same_samples(kept: dict, reference: dict) -> None:
    """The same cells kept, with the same labels, and (nearly all) the same samples: JPEG's own noise moves an
    odd sample by a pixel (measured: as much from the JPEG decoded whole as from the half-size copy)."""
    assert kept.keys() == reference.keys()
    assert all(kept[place][0] == label for place, (label, _) in reference.items())
    diffs = [np.abs(kept[p][1].astype(int) - sample.astype(int)).mean() for p, (_, sample) in reference.items()]
    assert np.mean(diffs) < 2 and np.mean(np.array(diffs) < 5) >= 0.95, sorted(diffs)[-10:]


def test_a_large_jpeg_is_extracted_at_reduced_scale_like_the_png(client, settings, alice, make_project) -> None:
    page = scanpages.grid_page(seed=3, dpi=DPI)
    written = len(scanpages.default_cells(3))
    project = make_project(alice)
    stored_sideways = np.ascontiguousarray(np.rot90(page))  # a phone's portrait photo: EXIF 6 turns it upright
    scans = upload_files(
        client,
        alice,
        project["id"],
        ("page.png", scanpages.png(page)),
        ("page.jpg", scanpages.jpeg(page, 90)),
        ("sideways.jpg", scanpages.jpeg_with_orientation(stored_sideways, 6)),
    )
    png, jpg, sideways = (scan["id"] for scan in scans)
    assert [(s["width"], s["height"]) for s in scans] == [(page.shape[1], page.shape[0])] * 3
    scales = [decoded_for_extraction(client, settings, scan).scale for scan in scans]
    assert scales == [1, 2, 2]  # the JPEGs are read at 150 dpi, the PNG whole

    result = extract(client, alice, project["id"], [png, jpg, sideways])
    assert all(r["status"] == "extracted" for r in result.values()), result
    kept = kept_cells(client, alice, project["id"])
    assert len(kept[png]) >= 0.98 * written
    for scan_id in (jpg, sideways):
        assert result[scan_id]["kept_count"] == result[png]["kept_count"]
        assert_same_samples(kept[scan_id], kept[png])
        # The grid's corners in the full page's pixels, where the PNG has them (not in the half-size copy's).
        corners = np.array(result[scan_id]["corners"])
        assert np.abs(corners - np.array(result[png]["corners"])).max() <= 1.5
        assert np.abs(corners - true_corners()).max() <= 5

    # A cell's cut-out is cut from the full page with those corners: the digit is in its middle.
    row, col = next(iter(kept[jpg]))
    base = f"/api/projects/{project['id']}/scans/{jpg}"
    cutout = client.get(f"{base}/cutout", params={"row": row, "col": col}, headers=alice.headers)
    assert cutout.status_code == 200
    pixels = decode_image(cutout.content)
    assert pixels.shape == (112, 112) and pixels[28:84, 28:84].min() < 128


def test_corners_placed_by_hand_on_a_large_jpeg_are_full_page_pixels(client, settings, alice, make_project) -> None:
    """The page's middle rows are wiped out, so its grid is not found; the student places the corners on the page
    image, in the full page's pixels (most of them outside the half-size copy the extraction reads)."""
    cells = scanpages.default_cells(7)
    page = scanpages.grid_page(cells, seed=7, dpi=DPI)
    _, top, cell = scanpages.grid_geometry(DPI)
    page[round(top + 12 * cell) : round(top + 20 * cell), :] = 245
    written = sum(not 12 <= row < 20 for row, _ in cells)
    project = make_project(alice)
    scans = upload_files(
        client, alice, project["id"], ("folded.png", scanpages.png(page)), ("folded.jpg", scanpages.jpeg(page, 90))
    )
    png, jpg = (scan["id"] for scan in scans)
    assert decoded_for_extraction(client, settings, scans[1]).scale == 2
    assert all(r["status"] == "failed" for r in extract(client, alice, project["id"], [png, jpg]).values())

    placed = (true_corners() + np.random.default_rng(1).uniform(-4, 4, (4, 2))).tolist()
    assert max(x for x, _ in placed) > page.shape[1] / 2  # would be off a half-size page
    for scan_id in (png, jpg):
        response = client.put(
            f"/api/projects/{project['id']}/scans/{scan_id}/corners", json={"corners": placed}, headers=alice.headers
        )
        assert response.status_code == 200, response.text
    result = extract(client, alice, project["id"], [png, jpg])
    assert all(r["status"] == "extracted" for r in result.values()), result
    kept = kept_cells(client, alice, project["id"])
    assert len(kept[png]) >= 0.95 * written
    assert_same_samples(kept[jpg], kept[png])
    corners = np.array(result[jpg]["corners"])
    assert np.abs(corners - np.array(result[png]["corners"])).max() <= 1.5
    assert np.abs(corners - true_corners()).max() <= 5

    row, col = next(iter(kept[jpg]))
    cutout = client.get(
        f"/api/projects/{project['id']}/scans/{jpg}/cutout", params={"row": row, "col": col}, headers=alice.headers
    )
    assert decode_image(cutout.content)[28:84, 28:84].min() < 128


@pytest.mark.parametrize("dpi", [150, 200])
def test_smaller_jpegs_are_read_whole(client, settings, alice, make_project, dpi) -> None:
    project = make_project(alice)
    [scan] = upload_files(client, alice, project["id"], ("page.jpg", scanpages.jpeg(scanpages.grid_page(dpi=dpi))))
    assert decoded_for_extraction(client, settings, scan).scale == 1
