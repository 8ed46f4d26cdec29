"""No request, however built, takes the service's memory or disk (issue 8, points 2 and 5).

- request bodies are capped while they stream in (JSON 1 MB; uploads have their own caps), whatever the
  Content-Length says or when there is none;
- uploads are limited per file and per request (bytes, pages, pixels) and decoded one page at a time;
- zip imports are checked from the zip's directory before anything is unpacked;
- per-user storage quota (413 quota_exceeded), low disk (507, and /api/health says so), deletions that work
  on a full disk (a real, tiny, full file system: root only);
- the memory test: a real `digitlab serve` under a 1.5 GiB memory cgroup survives the eight-PDF upload and a
  200 MB JSON body, and serves the next request (root only, slow).
"""

import contextlib
import io
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import threading
import time
import tracemalloc
import weakref
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from digitlab.core.storage import free_bytes
from digitlab.datasets import formats
from digitlab.main import create_app
from digitlab.pipeline import decode
from tests.api import scanpages
from tests.api.class_rows import make_class
from tests.api.datafiles import mnist_npz, upload_npz
from tests.api.helpers import new_project, new_user, stored_files
from tests.api.live import live_service
from tests.conftest import PASSWORD, make_settings

MB = 1024 * 1024


def upload(client, user, project_id, *files):
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return client.post(f"/api/projects/{project_id}/scans", headers=user.headers, files=parts)


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and isinstance(body["detail"], str) and len(body["detail"]) > 10, body
    return body


@pytest.fixture
def project(alice, make_project):
    return make_project(alice)


# --- request bodies ------------------------------------------------------------------------------------------
def test_json_body_over_the_cap_is_refused_before_it_is_read(client, alice):
    """A 10 MB JSON body was accepted (and a 200 MB one took 600 MB of memory)."""
    big = json.dumps({"name": "x" * (2 * MB)})
    body = assert_error(client.post("/api/projects", content=big, headers=alice.headers | {
        "content-type": "application/json"}), 413, "request_too_large")
    assert body["limit_bytes"] == MB
    # Just under the cap it is parsed and validated as usual (the name is too long: 422, not 413).
    ok_size = json.dumps({"name": "x" * (MB - 100)})
    assert client.post("/api/projects", content=ok_size, headers=alice.headers | {
        "content-type": "application/json"}).status_code == 422


def test_body_without_content_length_is_counted_as_it_streams(client, alice):
    """(Over a real socket, the server also stops reading there: see the memory test.)"""
    def chunks():
        for _ in range(64):  # 64 x 64 KB = 4 MB, chunked: no Content-Length at all
            yield b" " * (64 * 1024)

    response = client.post("/api/projects", content=chunks(), headers=alice.headers | {
        "content-type": "application/json"})
    assert_error(response, 413, "request_too_large")


def test_a_lying_content_length_does_not_get_a_body_past_the_cap(client, alice):
    response = client.post("/api/projects", content=b" " * (2 * MB), headers=alice.headers | {
        "content-type": "application/json", "content-length": "20"})
    assert_error(response, 413, "request_too_large")


def test_every_route_has_a_cap_also_those_that_read_no_body(client, alice):
    assert_error(client.request("DELETE", "/api/projects/1", content=b"x" * (2 * MB), headers=alice.headers),
                 413, "request_too_large")
    assert_error(client.post("/api/auth/login", content=b"{" * (2 * MB),
                             headers={"content-type": "application/json"}), 413, "request_too_large")


def test_uploads_have_their_own_larger_cap_per_request(tmp_path):
    settings = make_settings(tmp_path / "data", max_upload_request_bytes=3 * MB)
    big = scanpages.png(np.random.default_rng(0).integers(0, 256, (1100, 1100), dtype=np.uint8))  # ~1.2 MB
    assert MB < len(big) < 3 * MB
    with TestClient(create_app(settings, run_jobs=False)) as client:
        user = new_user(client, "carla")
        project = new_project(client, user)
        assert upload(client, user, project["id"], ("big.png", big)).status_code == 201  # over the JSON cap
        before = stored_files(settings.files_dir)
        too_much = [(f"{i}.png", scanpages.png(np.random.default_rng(i + 1).integers(0, 256, (1100, 1100),
                                                                                      dtype=np.uint8)))
                    for i in range(3)]
        body = assert_error(upload(client, user, project["id"], *too_much), 413, "request_too_large")
        assert body["limit_bytes"] == 3 * MB
        assert stored_files(settings.files_dir) == before
        assert list((settings.files_dir / ".staging").iterdir()) == []  # nothing left behind


def test_a_file_over_its_limit_is_cut_off_at_the_limit(tmp_path, monkeypatch):
    """Each file streams to disk and is refused the moment it passes its limit: never more than that is
    written, and the rest of the request is not read."""
    from digitlab.api import uploads

    written = []

    class CountingOs:
        def __getattr__(self, name):
            return getattr(os, name)

        def write(self, fd, data):
            written.append(len(data))
            return os.write(fd, data)

    monkeypatch.setattr(uploads, "os", CountingOs())
    settings = make_settings(tmp_path / "data", max_upload_bytes=200_000)
    with TestClient(create_app(settings, run_jobs=False)) as client:
        user = new_user(client, "dora")
        project = new_project(client, user)
        payload = b"\x89PNG\r\n\x1a\n" + bytes(5 * MB)
        body = assert_error(upload(client, user, project["id"], ("huge.png", payload)), 413, "file_too_large")
        assert body["filename"] == "huge.png" and "huge.png" in body["detail"]
        assert sum(written) <= 200_000
        assert list((settings.files_dir / ".staging").iterdir()) == []


# --- scan uploads: per request, page by page -------------------------------------------------------------------
def test_eight_fifty_page_pdfs_in_one_request_are_refused_before_a_page_is_rendered(client, alice, project,
                                                                                    settings, monkeypatch):
    """180 KB of PDFs that render to ~4 GB: refused from the page counts, before any page is rendered."""
    rendered = []
    monkeypatch.setattr(decode.OpenedFile, "page", lambda self, i: rendered.append(i))
    pdf = scanpages.page_bomb_pdf()
    files = [(f"sheet{i}.pdf", pdf + b"%" + bytes([i]) * (i + 1)) for i in range(8)]  # eight distinct files
    assert sum(len(data) for _, data in files) < 200_000
    before = stored_files(settings.files_dir)
    started = time.monotonic()
    body = assert_error(upload(client, alice, project["id"], *files), 413, "upload_too_many_pages")
    assert time.monotonic() - started < 10
    assert body["pages"] == 400 and body["max_pages"] == settings.max_upload_pages
    assert rendered == []
    assert stored_files(settings.files_dir) == before


def test_pages_and_pixels_are_limited_per_request_not_only_per_file(tmp_path):
    settings = make_settings(tmp_path / "data", max_upload_pages=3, max_upload_pixels=40_000_000)
    with TestClient(create_app(settings, run_jobs=False)) as client:
        user = new_user(client, "emil")
        project = new_project(client, user)
        two = scanpages.pdf_pages(2)
        assert_error(upload(client, user, project["id"], ("a.pdf", two), ("b.pdf", scanpages.pdf_pages(3))),
                     413, "upload_too_many_pages")
        # Within the page limit, but an A4 and two A3 pages at 300 dpi are 43 million pixels.
        assert upload(client, user, project["id"], ("a.pdf", two)).status_code == 201
        big = scanpages.blank_pdf(1, 842, 1191)  # A3: 17.4 million pixels
        assert_error(upload(client, user, project["id"], ("c.pdf", scanpages.blank_pdf(1, 595, 843)), ("d.pdf", big),
                            ("e.pdf", scanpages.blank_pdf(1, 843, 1192))), 413, "upload_too_many_pixels")


def test_pages_are_decoded_one_at_a_time(client, alice, project, monkeypatch):
    """Each page is rendered, checked, thumbnailed and released before the next one is decoded."""
    alive: list[weakref.ref] = []
    most = []
    real_page = decode.OpenedFile.page

    def tracked_page(self, index):
        most.append(sum(ref() is not None for ref in alive))  # pages of this upload still in memory
        page = real_page(self, index)
        alive.append(weakref.ref(page.gray))
        return page

    monkeypatch.setattr(decode.OpenedFile, "page", tracked_page)
    pdf = scanpages.pdf_pages(4)
    tiff = scanpages.multipage_tiff([np.full((120, 90), v, np.uint8) for v in (10, 90, 170)])
    response = upload(client, alice, project["id"], ("four.pdf", pdf), ("three.tif", tiff))
    assert response.status_code == 201, response.text
    assert len(response.json()) == 7 and len(most) == 7
    assert max(most) == 0, most


@contextlib.contextmanager
def all_places_taken(client, semaphore, places: int, turns, requests):
    """Every place of `semaphore` taken while `requests` (callables giving a status code) run at once: waits until
    as many as `turns` lets in sit at the semaphore inside their endpoint and the others wait for their turn, checks
    that the waiting ones hold no worker thread, and yields the list their status codes go to once the places are
    free again (after the block)."""
    from anyio.to_thread import current_default_thread_limiter

    for _ in range(places):
        semaphore.acquire()
    threads_limiter = client.portal.call(current_default_thread_limiter)
    results: list[int] = []
    threads = [threading.Thread(target=lambda request=request: results.append(request())) for request in requests]
    try:
        for thread in threads:
            thread.start()
        at_semaphore = semaphore._cond._waiters  # type: ignore[attr-defined]  # CPython's Semaphore: its waiters
        inside = turns.total_tokens

        def waiting() -> tuple[int, int]:
            return len(at_semaphore), client.portal.call(lambda: turns.statistics().tasks_waiting)

        deadline = time.monotonic() + 60
        while waiting() != (inside, len(requests) - inside) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting() == (inside, len(requests) - inside), "(inside at the semaphore, waiting for a turn)"
        # Only those inside hold a worker thread.
        assert client.portal.call(lambda: threads_limiter.borrowed_tokens) <= inside
        yield results
    finally:
        for _ in range(places):
            semaphore.release()
        for thread in threads:
            thread.join(timeout=120)


def clicks_answer_at_once(client, user) -> None:
    answered: list[int] = []
    clicks = threading.Thread(target=lambda: answered.extend([
        client.post("/api/projects", headers=user.headers, json={"name": "while the class waits"}).status_code,
        client.get("/api/projects", headers=user.headers).status_code,
    ]))
    clicks.start()
    clicks.join(timeout=20)  # the pool gives up on a connection after 30 s; at once is well within this
    assert answered == [201, 200], answered


def test_a_class_waiting_for_decode_slots_does_not_hold_up_other_clicks(client, settings, alice, project):
    """Thirty uploads waiting for the two decode slots once held every pooled database connection and worker
    thread, and a student creating a project waited seconds for one. Here every slot is taken while 24 uploads
    wait: a few inside the endpoint at the slots, the others for their turn without holding a thread. Other
    requests still answer at once, and the uploads all succeed once the slots are free."""
    from digitlab.api import turns
    from digitlab.scans.service import decode_slot

    pages = [scanpages.png(np.full((64, 48), 30 + i, np.uint8)) for i in range(24)]
    uploads = [lambda page=page, i=i: upload(client, alice, project["id"], (f"page{i}.png", page)).status_code
               for i, page in enumerate(pages)]
    decode_turns = client.portal.call(turns.decode_turns, settings)
    with all_places_taken(client, decode_slot(settings), settings.upload_decode_slots, decode_turns,
                          uploads) as results:
        clicks_answer_at_once(client, alice)
    assert sorted(results) == [201] * len(pages)


def test_a_class_logging_in_at_once_does_not_hold_up_other_clicks(client, alice):
    """The same for password work (logins, joins, registrations: one core at a time): while it is all taken, twelve
    logins wait without holding worker threads, other requests answer, and every login succeeds afterwards."""
    from digitlab.api import turns
    from digitlab.core import security

    logins = [lambda: client.post("/api/auth/login", json={"username": alice.username, "password": PASSWORD})
              .status_code] * 12
    password_turns = client.portal.call(turns.password_turns)
    with all_places_taken(client, security._password_work, security.PASSWORD_WORKERS, password_turns,
                          logins) as results:
        clicks_answer_at_once(client, alice)
    assert results == [200] * len(logins)


# --- zip imports ------------------------------------------------------------------------------------------------
def empty_entries_zip(count: int, claimed: int | None = None) -> bytes:
    """A zip of `count` empty stored entries (all named "a"), as zip64 when needed; `claimed` puts another
    count in the directory record (a zip that lies about how many entries it lists)."""
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0x21, 0, 0, 0, 1, 0) + b"a"
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
    directory_offset = len(local) * count
    directory_size = len(central) * count
    claimed = count if claimed is None else claimed
    parts = [local * count, central * count]
    if claimed > 0xFFFF:
        zip64_at = directory_offset + directory_size
        parts.append(struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, claimed, claimed,
                                 directory_size, directory_offset))
        parts.append(struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_at, 1))
        parts.append(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, directory_size, directory_offset, 0))
    else:
        parts.append(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, claimed, claimed, directory_size,
                                 directory_offset, 0))
    return b"".join(parts)


def test_the_zip_helper_builds_what_python_reads():
    assert len(zipfile.ZipFile(io.BytesIO(empty_entries_zip(70_000))).infolist()) == 70_000
    assert len(zipfile.ZipFile(io.BytesIO(empty_entries_zip(3))).infolist()) == 3


def test_a_million_empty_entries_are_refused_at_once(client, alice, project, settings):
    """1,000,000 empty entries took 13.5 s and 1.2 GB before the 422: now the zip's directory is checked first."""
    data = empty_entries_zip(1_000_000)
    limits = formats.ReadLimits(settings.max_import_samples, settings.max_import_unpacked_bytes,
                                settings.max_import_entries, settings.max_import_entry_bytes)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(formats.DatasetFileError, match="more than 210000 entries"):
        formats.read_dataset_file(data, list("0123456789"), limits)
    check_seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert check_seconds < 0.5 and peak < 2 * MB, (check_seconds, peak)

    started = time.perf_counter()
    response = upload_npz(client, alice, project["id"], data, name="bomb.zip")
    request_seconds = time.perf_counter() - started
    body = assert_error(response, 422, "bad_dataset_file")
    assert "entries" in body["detail"]
    assert request_seconds < 5, request_seconds  # mostly sending the 78 MB file through the test client
    print(f"\n1,000,000-entry zip ({len(data) / MB:.0f} MB): directory check {check_seconds * 1000:.1f} ms, "
          f"peak {peak / 1024:.0f} KiB traced; whole request {request_seconds:.2f} s")


def test_a_zip_that_lies_about_its_entry_count_is_counted(settings):
    limits = formats.ReadLimits(settings.max_import_samples, settings.max_import_unpacked_bytes,
                                settings.max_import_entries, settings.max_import_entry_bytes)
    data = empty_entries_zip(1_000_000, claimed=1)
    started = time.perf_counter()
    with pytest.raises(formats.DatasetFileError, match="entries"):
        formats.read_dataset_file(data, list("0123456789"), limits)
    assert time.perf_counter() - started < 0.5


def test_zip_sizes_are_checked_before_unpacking(client, alice, project):
    # A 30 MB entry of zeros compresses to ~30 KB: its declared size is refused before it is unpacked.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("3_0.png", bytes(30 * MB))
    body = assert_error(upload_npz(client, alice, project["id"], out.getvalue(), name="big.zip"), 422,
                        "bad_dataset_file")
    assert "3_0.png" in body["detail"] and "16 MB" in body["detail"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(30):
            archive.writestr(f"3_{i}.png", bytes(15 * MB))
    body = assert_error(upload_npz(client, alice, project["id"], out.getvalue(), name="bomb.zip"), 422,
                        "bad_dataset_file")
    assert "unpacks to more than" in body["detail"]


# --- quota and disk --------------------------------------------------------------------------------------------
def test_per_user_quota_refuses_before_storing(tmp_path):
    settings = make_settings(tmp_path / "data", user_quota_bytes=400_000)
    with TestClient(create_app(settings, run_jobs=False)) as client:
        ann, ben = new_user(client, "ann"), new_user(client, "ben")
        first, second = new_project(client, ann, "one"), new_project(client, ann, "two")
        image = lambda seed: scanpages.png(np.random.default_rng(seed).integers(0, 256, (300, 300), dtype=np.uint8))  # noqa: E731
        assert upload(client, ann, first["id"], ("a.png", image(1))).status_code == 201  # ~90 KB + thumbnail
        assert upload(client, ann, first["id"], ("b.png", image(2))).status_code == 201
        before = stored_files(settings.files_dir)
        # The quota is the user's, over all their projects.
        body = assert_error(upload(client, ann, second["id"], ("c.png", image(3)), ("d.png", image(4))), 413,
                            "quota_exceeded")
        assert body["scope"] == "user" and body["limit_bytes"] == 400_000
        assert 180_000 < body["used_bytes"] < 400_000 and body["needed_bytes"] > 180_000
        assert stored_files(settings.files_dir) == before
        # Imported samples count too (784 bytes each).
        assert_error(upload_npz(client, ann, second["id"], mnist_npz([1] * 300)), 413, "quota_exceeded")
        assert upload_npz(client, ann, second["id"], mnist_npz([1] * 20)).status_code == 201
        # Deleting frees the quota; another user has their own.
        scans = client.get(f"/api/projects/{first['id']}/scans", headers=ann.headers).json()
        deleted = client.delete(f"/api/projects/{first['id']}/scans/{scans[0]['id']}", headers=ann.headers)
        assert deleted.status_code == 204
        assert upload(client, ann, second["id"], ("c.png", image(3))).status_code == 201
        other = new_project(client, ben)
        assert upload(client, ben, other["id"], ("c.png", image(3)), ("d.png", image(4))).status_code == 201


def test_per_class_quota_counts_all_its_students(tmp_path):
    """One class's students share the class's quota (over all their projects); each refusal names the class,
    stores nothing, and leaves students of other classes, and the teacher's own projects, alone."""
    settings = make_settings(tmp_path / "data", class_quota_bytes=700_000)
    with TestClient(create_app(settings, run_jobs=False)) as client:
        tess, ann, ben, cleo = (new_user(client, name) for name in ("tess", "ann", "ben", "cleo"))
        make_class(client, "7b", [tess], [ann, ben])
        make_class(client, "8c", [tess], [cleo])
        image = lambda seed: scanpages.png(np.random.default_rng(seed).integers(0, 256, (300, 300), dtype=np.uint8))  # noqa: E731
        projects = {user.username: new_project(client, user)["id"] for user in (tess, ann, ben, cleo)}
        assert upload(client, ann, projects["ann"], ("a.png", image(1)), ("b.png", image(2))).status_code == 201
        response = upload(client, ben, projects["ben"], ("c.png", image(3)), ("d.png", image(4)))
        assert response.status_code == 201, response.text
        before = stored_files(settings.files_dir)
        body = assert_error(upload(client, ben, projects["ben"], ("e.png", image(5))), 413, "class_quota_exceeded")
        assert (body["scope"], body["class_name"], body["limit_bytes"]) == ("class", "7b", 700_000)
        assert 500_000 < body["used_bytes"] <= 700_000 and "class '7b'" in body["detail"]
        assert_error(upload(client, ann, projects["ann"], ("e.png", image(5))), 413, "class_quota_exceeded")
        assert_error(upload_npz(client, ann, projects["ann"], mnist_npz([1] * 200)), 413, "class_quota_exceeded")
        assert stored_files(settings.files_dir) == before
        # Another class's student and the teacher (not a student of 7b) are not held back by 7b.
        assert upload(client, cleo, projects["cleo"], ("e.png", image(5))).status_code == 201
        assert upload(client, tess, projects["tess"], ("e.png", image(5)), ("f.png", image(6))).status_code == 201
        # Deleting a classmate's scan frees the class's room.
        scans = client.get(f"/api/projects/{projects['ann']}/scans", headers=ann.headers).json()
        assert client.delete(f"/api/projects/{projects['ann']}/scans/{scans[0]['id']}",
                             headers=ann.headers).status_code == 204
        assert upload(client, ben, projects["ben"], ("e.png", image(5))).status_code == 201


def test_low_disk_refuses_uploads_with_507_and_health_says_so(tmp_path):
    settings = make_settings(tmp_path / "data", min_free_disk_bytes=1 << 60)  # more than any disk has
    with TestClient(create_app(settings, run_jobs=False)) as client:
        health = client.get("/api/health")
        assert health.status_code == 200
        assert health.json()["storage"]["low"] is True and health.json()["warnings"]
        user = new_user(client, "fay")
        project = new_project(client, user)
        assert_error(upload(client, user, project["id"], ("a.png", scanpages.small_png(1))), 507,
                     "insufficient_storage")
        assert_error(upload_npz(client, user, project["id"], mnist_npz([1, 2])), 507, "insufficient_storage")
        assert client.delete(f"/api/projects/{project['id']}", headers=user.headers).status_code == 204
    settings = make_settings(tmp_path / "data2")
    with TestClient(create_app(settings, run_jobs=False)) as client:
        assert client.get("/api/health").json()["storage"] == {"low": False}


@pytest.fixture
def tiny_disk(tmp_path):
    """A 24 MB file system of its own (tmpfs), so that the test can fill it completely."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small file system")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill_disk(path: Path) -> Path:
    """Write a file until the disk holding `path` has no byte left."""
    filler = path / "filler"
    with open(filler, "wb", buffering=0) as handle:
        for size in (MB, 64 * 1024, 4096, 512, 1):
            try:
                while True:
                    handle.write(bytes(size))
            except OSError:
                continue
    return filler


def test_deleting_works_on_a_full_disk(tiny_disk):
    """At 0 bytes free, deletes answered 500 "database or disk is full", so nobody could free space."""
    settings = make_settings(tiny_disk / "data", disk_reserve_bytes=2 * MB, min_free_disk_bytes=4 * MB,
                             database_url="")
    with TestClient(create_app(settings, run_jobs=False)) as client:
        reserve = settings.data_dir / ".disk-reserve"
        assert reserve.stat().st_size == 2 * MB
        user = new_user(client, "gus")
        projects = [new_project(client, user, f"p{i}") for i in range(3)]
        scans = [upload(client, user, p["id"], ("a.png", scanpages.small_png(i))).json()[0]
                 for i, p in enumerate(projects)]
        for p in projects:
            assert upload_npz(client, user, p["id"], mnist_npz(list(range(10)) * 30)).status_code == 201

        filler = fill_disk(tiny_disk)
        assert free_bytes(tiny_disk) == 0
        assert client.get("/api/health").json()["storage"]["low"] is True
        assert_error(upload(client, user, projects[0]["id"], ("b.png", scanpages.small_png(9))), 507,
                     "insufficient_storage")
        response = client.delete(f"/api/projects/{projects[0]['id']}/scans/{scans[0]['id']}", headers=user.headers)
        assert response.status_code == 204, response.text
        response = client.delete(f"/api/projects/{projects[1]['id']}", headers=user.headers)
        assert response.status_code == 204, response.text
        assert client.get(f"/api/projects/{projects[1]['id']}", headers=user.headers).status_code == 404
        # Logging in (to reach a delete button) works too.
        assert client.post("/api/auth/login", json={"username": "gus", "password": PASSWORD}).status_code == 200

        filler.unlink()  # space again: the next deletion takes the reserve back
        assert client.delete(f"/api/projects/{projects[2]['id']}", headers=user.headers).status_code == 204
        assert reserve.stat().st_size == 2 * MB
        assert client.get("/api/health").json()["storage"]["low"] is False


# --- the memory test -------------------------------------------------------------------------------------------
CGROUP_MEMORY = Path("/sys/fs/cgroup/memory")
MEMORY_LIMIT = 1536 * MB


def own_memory_cgroup() -> Path:
    """The memory cgroup (v1) this process is in."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return CGROUP_MEMORY / path.lstrip("/")
    raise LookupError("no memory cgroup")


@pytest.fixture
def memory_cgroup():
    """A child of this process's memory cgroup (v1), limited to 1.5 GiB; skipped where that is not possible."""
    if os.geteuid() != 0 or not (CGROUP_MEMORY / "cgroup.procs").exists():
        pytest.skip("needs root and cgroup v1 memory control at /sys/fs/cgroup/memory")
    group = own_memory_cgroup() / f"digitlab-test-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(MEMORY_LIMIT))
    except OSError as exc:
        pytest.skip(f"cannot create a memory cgroup: {exc}")
    swap_limit = group / "memory.memsw.limit_in_bytes"
    if swap_limit.exists():
        swap_limit.write_text(str(MEMORY_LIMIT))  # no escape into swap either
    try:
        yield group
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)
        for _ in range(50):
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def raw_request(port: int, head: bytes, body_chunks, timeout: float = 120.0) -> tuple[int, dict, float]:
    """Send a request whose body may be far larger than the server accepts; the answer is read by a second
    thread while the body is still being sent (the server answers early and then closes the connection).
    Returns (status, JSON body, megabytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    answer = bytearray()
    done = threading.Event()

    def read() -> None:
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer.extend(chunk)
                header_end = answer.find(b"\r\n\r\n")
                if header_end >= 0:
                    length = [int(line.split(b":")[1]) for line in answer[:header_end].split(b"\r\n")
                              if line.lower().startswith(b"content-length:")]
                    if length and len(answer) >= header_end + 4 + length[0]:
                        break
        except OSError:
            pass
        finally:
            done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = 0
    try:
        sock.sendall(head)
        for chunk in body_chunks:
            if done.is_set():
                break
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:  # the server closed the connection after answering
        pass
    done.wait(timeout)
    sock.close()
    header, _, body = bytes(answer).partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    return status, json.loads(body), sent / MB


def process_peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_server_under_a_memory_limit_survives_the_eight_pdf_upload_and_a_200_mb_json_body(tmp_path, memory_cgroup):
    settings = {
        # Let the eight PDFs through the per-request page and pixel limits, so that all 400 pages (~4 billion
        # pixels) are really decoded: memory must stay about one page, not 400.
        "DIGITLAB_MAX_UPLOAD_PAGES": "400", "DIGITLAB_MAX_UPLOAD_PIXELS": "5000000000", "DIGITLAB_DATABASE_URL": "",
    }
    # The server is born inside the group (so everything it ever allocates counts): this process joins it
    # while starting the server and goes back to its own group right after.
    home = own_memory_cgroup()
    (memory_cgroup / "cgroup.procs").write_text(str(os.getpid()))
    try:
        with live_service(tmp_path, **settings) as service:
            (home / "cgroup.procs").write_text(str(os.getpid()))
            _eight_pdfs_and_a_200_mb_body(service, memory_cgroup)
    finally:
        (home / "cgroup.procs").write_text(str(os.getpid()))


def _eight_pdfs_and_a_200_mb_body(service, memory_cgroup: Path) -> None:
    server = service.process
    assert (memory_cgroup / "cgroup.procs").read_text().split() == [str(server.pid)]
    port = int(service.base.rsplit(":", 1)[1])
    with httpx.Client(base_url=service.base, timeout=600) as http:
        assert http.post("/api/auth/register", json={"username": "hana", "password": PASSWORD}).status_code == 201
        token = http.post("/api/auth/login", json={"username": "hana", "password": PASSWORD}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        project = http.post("/api/projects", json={"name": "p"}, headers=headers).json()
        idle_rss = process_peak_rss(server.pid)
        (memory_cgroup / "memory.max_usage_in_bytes").write_text("0")

        pdf = scanpages.page_bomb_pdf()
        files = [("files", (f"sheet{i}.pdf", pdf + b"%" + bytes([i]) * (i + 1), "application/pdf"))
                 for i in range(8)]
        started = time.monotonic()
        response = http.post(f"/api/projects/{project['id']}/scans", files=files, headers=headers)
        upload_seconds = time.monotonic() - started
        assert server.poll() is None, "the server died during the upload"
        assert response.status_code == 201 or 400 <= response.status_code < 500, response.text
        if response.status_code == 201:
            assert len(response.json()) == 400
        upload_rss = process_peak_rss(server.pid)
        cgroup_peak = int((memory_cgroup / "memory.max_usage_in_bytes").read_text())

        # 200 MB of JSON, once with its length declared and once chunked (no length): 413 either way.
        big = 200 * MB
        request = (f"POST /api/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                   "Content-Type: application/json\r\n").encode()
        block = b" " * MB
        status, body, sent_declared = raw_request(port, request + f"Content-Length: {big}\r\n\r\n".encode(),
                                                  (block for _ in range(200)))
        assert (status, body["code"]) == (413, "request_too_large")
        chunked = (b"%x\r\n" % len(block) + block + b"\r\n" for _ in range(200))
        status, body, sent_chunked = raw_request(port, request + b"Transfer-Encoding: chunked\r\n\r\n", chunked)
        assert (status, body["code"]) == (413, "request_too_large")
        assert server.poll() is None
        json_rss = process_peak_rss(server.pid)

        # ... and the next request is served.
        assert http.get("/api/health").status_code == 200
        listed = http.get(f"/api/projects/{project['id']}/scans", headers=headers)
        assert listed.status_code == 200
        failures = int((memory_cgroup / "memory.failcnt").read_text())
    print(f"\nmemory (limit {MEMORY_LIMIT / MB:.0f} MiB): idle peak RSS {idle_rss / MB:.0f} MiB; eight "
          f"50-page PDFs ({sum(len(f[1][1]) for f in files) / 1024:.0f} KB, answer {response.status_code} in "
          f"{upload_seconds:.1f} s): peak RSS {upload_rss / MB:.0f} MiB, cgroup peak (with page cache) "
          f"{cgroup_peak / MB:.0f} MiB; 200 MB JSON: answered after {sent_declared:.0f} MB (declared) and "
          f"{sent_chunked:.0f} MB (chunked) were sent, peak RSS {json_rss / MB:.0f} MiB; "
          f"limit hits {failures}")
    assert upload_rss < 700 * MB and json_rss < 700 * MB
