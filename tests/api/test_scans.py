"""Scan uploads: every supported kind, type sniffing, downloads, deletion, and every bad input refused whole."""

import hashlib
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from digitlab.main import create_app
from tests.api import scanpages
from tests.api.helpers import decode_image as decode
from tests.api.helpers import start_extraction, stored_files
from tests.conftest import PASSWORD, make_settings, wait_for_job


def upload(client, user, project_id, *files):
    """files: (name, bytes) pairs, sent as one multipart request."""
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return client.post(f"/api/projects/{project_id}/scans", headers=user.headers, files=parts)


def list_scans(client, user, project_id):
    response = client.get(f"/api/projects/{project_id}/scans", headers=user.headers)
    assert response.status_code == 200
    return response.json()




@pytest.fixture
def project(alice, make_project):
    return make_project(alice)


def test_upload_png(client, alice, project):
    data = scanpages.small_png(1, size=(300, 200))
    response = upload(client, alice, project["id"], ("page 1.png", data))
    assert response.status_code == 201, response.text
    [scan] = response.json()
    assert scan["filename"] == "page 1.png"
    assert scan["media_type"] == "image/png"
    assert (scan["width"], scan["height"]) == (300, 200)
    assert scan["size_bytes"] == len(data)
    assert scan["sha256"] == hashlib.sha256(data).hexdigest()
    assert scan["status"] == "uploaded" and scan["page_index"] == 0 and scan["page_count"] == 1
    assert scan["preview_url"] is None
    assert list_scans(client, alice, project["id"]) == [scan]
    assert client.get(f"/api/projects/{project['id']}", headers=alice.headers).json()["scan_count"] == 1


def test_upload_several_files_at_once(client, alice, project):
    files = [(f"p{i}.png", scanpages.small_png(i)) for i in range(3)]
    response = upload(client, alice, project["id"], *files)
    assert response.status_code == 201, response.text
    assert [s["filename"] for s in response.json()] == ["p0.png", "p1.png", "p2.png"]
    assert len(list_scans(client, alice, project["id"])) == 3


def test_upload_jpeg_and_tiff(client, alice, project):
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (150, 100), dtype=np.uint8)
    response = upload(client, alice, project["id"], ("photo.jpg", scanpages.jpeg(image)),
                      ("scan.tif", scanpages.tiff(image)))
    assert response.status_code == 201, response.text
    jpeg_scan, tiff_scan = response.json()
    assert jpeg_scan["media_type"] == "image/jpeg"
    assert tiff_scan["media_type"] == "image/tiff"
    assert (jpeg_scan["width"], jpeg_scan["height"]) == (tiff_scan["width"], tiff_scan["height"]) == (100, 150)


def test_multipage_tiff_becomes_one_scan_per_page(client, alice, project):
    pages = [np.full((90, 60), value, np.uint8) for value in (40, 120, 200)]
    response = upload(client, alice, project["id"], ("stack.tiff", scanpages.multipage_tiff(pages)))
    assert response.status_code == 201, response.text
    scans = response.json()
    assert [s["page_index"] for s in scans] == [0, 1, 2]
    assert {s["page_count"] for s in scans} == {3} and len({s["sha256"] for s in scans}) == 1
    # Each page has its own thumbnail showing that page.
    shades = [decode(client.get(s["thumbnail_url"], headers=alice.headers).content).mean() for s in scans]
    assert shades == sorted(shades) and shades[2] - shades[0] > 100


def test_phone_photo_is_shown_upright(client, alice, project):
    """Phones store portrait photos sideways with an EXIF orientation tag: the scan must be upright."""
    stored = np.full((100, 160), 255, np.uint8)  # landscape pixels ...
    stored[:, :20] = 0  # ... with a dark band on the stored left edge
    response = upload(client, alice, project["id"], ("IMG_1234.jpg", scanpages.jpeg_with_orientation(stored, 6)))
    assert response.status_code == 201, response.text
    scan = response.json()[0]
    assert (scan["width"], scan["height"]) == (100, 160)  # portrait, as the student held the phone
    thumb = decode(client.get(scan["thumbnail_url"], headers=alice.headers).content)
    assert thumb.shape[0] > thumb.shape[1]
    assert thumb[:thumb.shape[0] // 10].mean() < 80  # orientation 6: the stored left edge is now the top


def test_user_supplied_names_never_become_paths(client, alice, project, settings):
    names = ["../../../escape.png", "..\\..\\win.png", "/etc/passwd.png", "con.png", "ä ü €.png"]
    files = [(name, scanpages.small_png(50 + i)) for i, name in enumerate(names)]
    response = upload(client, alice, project["id"], *files)
    assert response.status_code == 201, response.text
    assert [s["filename"] for s in response.json()] == names
    root = settings.data_dir.resolve()
    outside = [p for p in settings.data_dir.parent.rglob("*") if p.is_file() and not p.resolve().is_relative_to(root)]
    assert outside == []
    stored_names = {p.name for p in stored_files(settings.files_dir)}
    assert not any(name.replace("\\", "/").split("/")[-1] in stored_names for name in names)
    for scan in response.json():
        download = client.get(scan["original_url"], headers=alice.headers)
        assert download.status_code == 200
        assert "filename" in download.headers["content-disposition"]


def test_pdf_pages_become_scans_sharing_the_file(client, alice, project):
    data = scanpages.pdf_pages(2)
    response = upload(client, alice, project["id"], ("scans.pdf", data))
    assert response.status_code == 201, response.text
    pages = response.json()
    assert [p["page_index"] for p in pages] == [0, 1]
    assert {p["page_count"] for p in pages} == {2}
    assert {p["media_type"] for p in pages} == {"application/pdf"}
    assert pages[0]["sha256"] == pages[1]["sha256"] == hashlib.sha256(data).hexdigest()
    # Rendered at 300 dpi: an A4 page is about 2480 x 3508 pixels.
    assert abs(pages[0]["width"] - 2480) <= 2 and abs(pages[0]["height"] - 3508) <= 2
    for page in pages:
        original = client.get(page["original_url"], headers=alice.headers)
        assert original.status_code == 200 and original.content == data
        thumb = client.get(page["thumbnail_url"], headers=alice.headers)
        assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8")

    # Deleting one page keeps the file for the other.
    assert client.delete(f"/api/projects/{project['id']}/scans/{pages[0]['id']}", headers=alice.headers).status_code == 204
    assert client.get(pages[1]["original_url"], headers=alice.headers).content == data


def test_type_comes_from_the_content_not_the_name(client, alice, project):
    response = upload(client, alice, project["id"], ("x.pdf", scanpages.small_png(3)))
    assert response.status_code == 201, response.text
    assert response.json()[0]["media_type"] == "image/png"
    assert response.json()[0]["filename"] == "x.pdf"


def test_get_download_thumbnail_and_no_preview_before_extraction(client, alice, project):
    data = scanpages.png(scanpages.grid_page(seed=7))
    scan = upload(client, alice, project["id"], ("sheet.png", data)).json()[0]
    base = f"/api/projects/{project['id']}/scans/{scan['id']}"
    assert client.get(base, headers=alice.headers).json() == scan

    original = client.get(base + "/original", headers=alice.headers)
    assert original.status_code == 200
    assert original.content == data
    assert original.headers["content-type"] == "image/png"
    assert "sheet.png" in original.headers["content-disposition"]

    thumb = client.get(base + "/thumbnail", headers=alice.headers)
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    small = decode(thumb.content)
    assert max(small.shape[:2]) <= 400 and min(small.shape[:2]) > 0
    # Same aspect ratio as the page.
    assert abs(small.shape[0] / small.shape[1] - scan["height"] / scan["width"]) < 0.02

    preview = client.get(base + "/preview", headers=alice.headers)
    assert preview.status_code == 404
    assert preview.json()["code"] == "not_found"


def test_unknown_scan_is_404(client, alice, project):
    for suffix in ("", "/original", "/thumbnail", "/preview"):
        response = client.get(f"/api/projects/{project['id']}/scans/424242{suffix}", headers=alice.headers)
        assert response.status_code == 404, suffix


def test_scan_of_another_project_of_the_same_user_is_404(client, alice, project, make_project):
    other = make_project(alice, "other")
    scan = upload(client, alice, other["id"], ("a.png", scanpages.small_png(1))).json()[0]
    assert client.get(f"/api/projects/{project['id']}/scans/{scan['id']}", headers=alice.headers).status_code == 404
    response = client.delete(f"/api/projects/{project['id']}/scans/{scan['id']}", headers=alice.headers)
    assert response.status_code == 404
    assert client.get(scan["original_url"], headers=alice.headers).status_code == 200


def test_delete_scan_removes_its_files(client, alice, project, settings):
    before = stored_files(settings.files_dir)
    scan = upload(client, alice, project["id"], ("a.png", scanpages.small_png(4))).json()[0]
    tiff_scan = upload(client, alice, project["id"], ("b.tif", scanpages.tiff(np.full((80, 60), 200, np.uint8)))).json()[0]
    assert stored_files(settings.files_dir) > before
    for s in (scan, tiff_scan):
        assert client.delete(f"/api/projects/{project['id']}/scans/{s['id']}", headers=alice.headers).status_code == 204
        assert client.get(f"/api/projects/{project['id']}/scans/{s['id']}", headers=alice.headers).status_code == 404
        assert client.get(s["original_url"], headers=alice.headers).status_code == 404
    assert stored_files(settings.files_dir) == before
    assert list_scans(client, alice, project["id"]) == []
    # Once deleted, the same file may be uploaded again.
    assert upload(client, alice, project["id"], ("a.png", scanpages.small_png(4))).status_code == 201


def test_same_content_again_is_a_duplicate(client, alice, project, make_project):
    data = scanpages.small_png(9)
    first = upload(client, alice, project["id"], ("a.png", data)).json()[0]
    again = upload(client, alice, project["id"], ("renamed.png", data))
    assert again.status_code == 409
    body = again.json()
    assert body["code"] == "duplicate_upload" and body["detail"]
    assert body.get("existing_scan_id") == first["id"]
    within = upload(client, alice, project["id"], ("x.png", scanpages.small_png(10)), ("y.png", scanpages.small_png(10)))
    assert within.status_code == 409 and within.json()["code"] == "duplicate_upload"
    assert [s["id"] for s in list_scans(client, alice, project["id"])] == [first["id"]]
    # Another project may hold the same file.
    other = make_project(alice, "other")
    assert upload(client, alice, other["id"], ("a.png", data)).status_code == 201


BAD_FILES = {
    "zero bytes": ("empty.png", b"", 422, "empty"),
    "text named .png": ("notes.png", b"These are my notes, not a scan.\n" * 20, 415, "unsupported_type"),
    "truncated png": ("cut.png", scanpages.png(scanpages.grid_page(seed=11))[:20000], 422, "truncated"),
    "decompression bomb": ("huge.png", scanpages.png_bomb(20000, 20000), 422, "too_many_pixels"),
    "pdf without pages": ("empty.pdf", scanpages.empty_pdf(), 422, "pdf_no_pages"),
    "password pdf": ("locked.pdf", scanpages.pdf_pages(1, encrypt="secret"), 422, "pdf_encrypted"),
    "gif": ("anim.gif", b"GIF89a" + b"\x00" * 100, 415, "unsupported_type"),
    # Data that makes no sense (issue 8, point 10): a page too small to hold a sheet.
    "1x1 scan": ("dot.png", scanpages.png(np.zeros((1, 1), np.uint8)), 422, "too_small"),
    "pdf page of 0.1 pt": ("tiny.pdf", scanpages.blank_pdf(1, 0.1, 0.1), 422, "too_small"),
    "tiff with a 1-pixel page": ("stack.tif", scanpages.multipage_tiff([np.zeros((90, 60), np.uint8),
                                                                       np.zeros((1, 60), np.uint8)]), 422, "too_small"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_refused_and_nothing_is_stored(client, alice, project, settings, case):
    name, data, status, code = BAD_FILES[case]
    before = stored_files(settings.files_dir)
    response = upload(client, alice, project["id"], (name, data))
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert name in body["detail"] and len(body["detail"]) > len(name) + 10
    assert list_scans(client, alice, project["id"]) == []
    assert stored_files(settings.files_dir) == before


def test_batch_with_one_bad_file_stores_nothing(client, alice, project, settings):
    before = stored_files(settings.files_dir)
    response = upload(client, alice, project["id"], ("good.png", scanpages.small_png(20)),
                      ("good.pdf", scanpages.pdf_pages(1)), ("bad.png", b"not an image at all"))
    assert response.status_code == 415, response.text
    assert "bad.png" in response.json()["detail"]
    assert list_scans(client, alice, project["id"]) == []
    assert stored_files(settings.files_dir) == before
    # The good files can be uploaded afterwards (no half-stored leftovers count as duplicates).
    assert upload(client, alice, project["id"], ("good.png", scanpages.small_png(20))).status_code == 201


def test_error_message_for_empty_pdf_does_not_depend_on_earlier_uploads(client, alice, project):
    """A student who uploads a PDF without pages must hear that, even right after someone's locked PDF."""
    locked = upload(client, alice, project["id"], ("locked.pdf", scanpages.pdf_pages(1, encrypt="secret")))
    assert locked.json()["code"] == "pdf_encrypted"
    empty = upload(client, alice, project["id"], ("empty.pdf", scanpages.empty_pdf()))
    assert empty.status_code == 422
    assert empty.json()["code"] == "pdf_no_pages", empty.json()["detail"]


def test_empty_request_is_refused(client, alice, project):
    response = client.post(f"/api/projects/{project['id']}/scans", headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_upload_limits(tmp_path):
    """A file over the size limit (413) and too many files at once (422): nothing is stored."""
    settings = make_settings(tmp_path / "small", max_upload_bytes=50_000, max_files_per_upload=3)
    big = scanpages.png(np.random.default_rng(0).integers(0, 256, (300, 300), dtype=np.uint8))
    assert len(big) > 50_000
    with TestClient(create_app(settings, run_jobs=False)) as small_client:
        small_client.post("/api/auth/register", json={"username": "carla", "password": PASSWORD})
        token = small_client.post("/api/auth/login", json={"username": "carla", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        project_id = small_client.post("/api/projects", json={"name": "p"}, headers=headers).json()["id"]
        before = stored_files(settings.files_dir)
        response = small_client.post(f"/api/projects/{project_id}/scans", headers=headers,
                                     files=[("files", ("big.png", big, "image/png")),
                                            ("files", ("ok.png", scanpages.small_png(1, (50, 50)), "image/png"))])
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "file_too_large"
        assert "big.png" in response.json()["detail"]
        assert small_client.get(f"/api/projects/{project_id}/scans", headers=headers).json() == []
        assert stored_files(settings.files_dir) == before
        many = small_client.post(f"/api/projects/{project_id}/scans", headers=headers,
                                 files=[("files", (f"{i}.png", scanpages.small_png(i, (40, 40)), "image/png"))
                                        for i in range(4)])
        assert many.status_code == 422, many.text
        assert many.json()["code"] == "too_many_files"
        assert stored_files(settings.files_dir) == before
        ok = small_client.post(f"/api/projects/{project_id}/scans", headers=headers,
                               files={"files": ("ok.png", scanpages.small_png(1, (50, 50)), "image/png")})
        assert ok.status_code == 201


def test_simultaneous_uploads_of_one_file_keep_the_stored_scan_intact(client, alice, project, monkeypatch):
    """A double click sends the same file twice at once: one upload wins, the other is told it is a duplicate,
    and the winner's original file must survive the loser's clean-up."""
    from digitlab.scans import service

    both_checked = threading.Barrier(2, timeout=20)
    real_decode = service._decode_pages

    def decode_together(settings, file):
        result = real_decode(settings, file)
        both_checked.wait()  # both requests have passed the duplicate check before either stores
        return result

    monkeypatch.setattr(service, "_decode_pages", decode_together)
    data = scanpages.small_png(30)
    responses = []

    def send():
        try:
            responses.append(upload(client, alice, project["id"], ("double.png", data)))
        except Exception as exc:  # a server error surfaces here through the TestClient
            responses.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    outcomes = sorted(getattr(r, "status_code", 500) for r in responses)
    assert outcomes == [201, 409], [getattr(r, "text", repr(r)) for r in responses]
    [scan] = list_scans(client, alice, project["id"])
    original = client.get(scan["original_url"], headers=alice.headers)
    assert original.status_code == 200 and original.content == data


def test_example_pages_become_scans_with_250_samples_of_each_digit(client, alice, project):
    """A student without printer or scanner adds the shipped example pages with one click, once."""
    response = client.post(f"/api/projects/{project['id']}/scans/examples", headers=alice.headers)
    assert response.status_code == 201, response.text
    scans = response.json()
    assert [s["filename"] for s in scans] == [f"example-page-{n}.png" for n in range(1, 6)]
    assert list_scans(client, alice, project["id"]) == scans
    again = client.post(f"/api/projects/{project['id']}/scans/examples", headers=alice.headers)
    assert again.status_code == 409 and again.json()["code"] == "duplicate_upload"
    assert len(list_scans(client, alice, project["id"])) == 5

    job = wait_for_job(client, alice, start_extraction(client, alice, project["id"])["id"])
    assert job["status"] == "succeeded", job
    summary = client.get(f"/api/projects/{project['id']}/dataset", headers=alice.headers).json()
    assert {c["label"]: c["included"] for c in summary["labels"]} == {str(d): 250 for d in range(10)}


def test_example_pages_need_a_project_of_the_digits(client, alice, make_project):
    letters = make_project(alice, "letters", labels=list("abcdefghij"))
    response = client.post(f"/api/projects/{letters['id']}/scans/examples", headers=alice.headers)
    assert response.status_code == 409 and response.json()["code"] == "examples_need_digits"
    assert list_scans(client, alice, letters["id"]) == []
