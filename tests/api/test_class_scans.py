"""Sheet version 2 through the service, and bulk scans from the school copier.

A class (teacher tess; students ana, ben, cem) is written into the database directly (tests.api.class_rows);
olga is a student of no class of tess's. Sheets are the service's own PDFs, filled in (tests.api.sheetpages),
and uploaded as one multi-page PDF the way a copier makes it.
"""

import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from digitlab.class_scans.tables import UnassignedPage
from digitlab.core.db import unit_of_work
from digitlab.main import create_app
from digitlab.pipeline.decode import PDFIUM_LOCK, decode_file
from digitlab.pipeline.sheet import read_sheet
from digitlab.pipeline.sheet_code import verify_sheet_code
from digitlab.pipeline.template import DIGIT_LABELS
from digitlab.sheets import service as sheets_service
from tests.api import scanpages, sheetpages
from tests.api.class_rows import make_class
from tests.api.helpers import all_cells, decode_image, new_project, new_user, stored_files, upload_files
from tests.conftest import UserHandle, make_settings, wait_for_job

DPI = sheetpages.DPI


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("class-scans") / "data", pdf_render_dpi=DPI)
    with TestClient(create_app(settings)) as client:
        users = {name: new_user(client, name) for name in ("tess", "ana", "ben", "cem", "olga", "tom")}
        projects = {name: new_project(client, users[name], f"{name}'s digits") for name in ("ana", "ben", "cem", "olga")}
        class_id = make_class(client, "7b", [users["tess"]], [users["ana"], users["ben"], users["cem"]])
        other_class = make_class(client, "8c", [users["tom"]], [users["olga"]])
        yield client, users, projects, class_id, other_class, settings


def key(client) -> bytes:
    with unit_of_work(client.app.state.engine) as session:
        return sheets_service.signing_key(session)


def bulk(client, user: UserHandle, class_id: int, *files: tuple[str, bytes]):
    parts = [("files", (name, data, "application/pdf")) for name, data in files]
    return client.post(f"/api/classes/{class_id}/bulk-scans", headers=user.headers, files=parts)


def tray(client, user: UserHandle, class_id: int) -> list[dict]:
    response = client.get(f"/api/classes/{class_id}/unassigned-pages", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def scans_of(client, user: UserHandle, project_id: int) -> list[dict]:
    response = client.get(f"/api/projects/{project_id}/scans", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def assert_cells_right(client, user: UserHandle, project_id: int, scan_id: int, written: set) -> None:
    """The scan's kept samples are exactly the written cells, each with its row's label."""
    cells = [c for c in all_cells(client, user, project_id) if c["scan_id"] == scan_id]
    kept = {(c["row"], c["col"]) for c in cells if c["status"] == "kept"}
    assert kept == written
    assert all(c["label"] == DIGIT_LABELS[c["row"] // 3] for c in cells)


def pdf_page_count(pdf: bytes) -> int:
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            return len(doc)
        finally:
            doc.close()


# ------------------------------------------------------------------ the sheet PDF

def test_sheet_pdf_is_version_2_by_default_with_a_signed_code(world):
    client, users, projects, *_ = world
    ana, project_id = users["ana"], projects["ana"]["id"]
    pdf = sheetpages.sheet_pdf(client, ana, project_id)
    reading = read_sheet(decode_file(pdf, pdf_dpi=DPI).pages[0].gray)
    assert reading.version == 2
    code = verify_sheet_code(key(client), reading.code)
    assert (code.project_id, code.page) == (project_id, 1)
    assert "ana" not in reading.code and "digits" not in reading.code  # no name in the code


def test_sheet_pdf_pages_language_and_legacy_version(world):
    client, users, projects, *_ = world
    ben, project_id = users["ben"], projects["ben"]["id"]
    pdf = sheetpages.sheet_pdf(client, ben, project_id, page=5, pages=3, lang="de")
    assert pdf_page_count(pdf) == 3
    codes = [verify_sheet_code(key(client), read_sheet(p.gray).code) for p in decode_file(pdf, pdf_dpi=DPI).pages]
    assert [c.page for c in codes] == [5, 6, 7]
    legacy = sheetpages.sheet_pdf(client, ben, project_id, version=1)
    assert read_sheet(decode_file(legacy, pdf_dpi=DPI).pages[0].gray, search_whole_page=True).version == 1
    for bad in ({"version": 3}, {"lang": "fr"}, {"pages": 0}, {"pages": 31}, {"page": 0}, {"page": 10000}):
        response = client.get(f"/api/projects/{project_id}/sheet.pdf", headers=ben.headers, params=bad)
        assert response.status_code == 422, bad
        assert response.json()["detail"]


# ------------------------------------------------------------------ the student's own uploads

def test_wrong_project_and_duplicate_page_are_named_not_extracted(world):
    client, users, projects, *_ = world
    cem, cem_id, ana_id = users["cem"], projects["cem"]["id"], projects["ana"]["id"]
    second = new_project(client, cem, "cem's letters")
    own, written = sheetpages.filled(sheetpages.sheet_pdf(client, cem, cem_id, page=7), seed=1)
    again, _ = sheetpages.filled(sheetpages.sheet_pdf(client, cem, cem_id, page=7), seed=2)  # page 7 printed twice
    anas, _ = sheetpages.filled(sheetpages.sheet_pdf(client, users["ana"], ana_id, page=9), seed=3)
    letters, _ = sheetpages.filled(sheetpages.sheet_pdf(client, cem, second["id"]), seed=4)
    upload_files(client, cem, cem_id, ("own.png", scanpages.png(own)),
                         ("again.png", scanpages.png(sheetpages.turned(again, 2))),
                         ("anas.png", scanpages.png(anas)), ("letters.png", scanpages.png(letters)))
    response = client.post(f"/api/projects/{cem_id}/extractions", json={}, headers=cem.headers)
    job = wait_for_job(client, cem, response.json()["id"])
    assert job["status"] == "succeeded", job
    pages = {page["filename"]: page for page in job["result"]["pages"]}
    assert pages["own.png"]["status"] == "ok" and pages["own.png"]["sheet_page"] == 7
    assert pages["again.png"]["problem"] == "duplicate_page"
    assert "page 7" in pages["again.png"]["error"] and "already extracted" in pages["again.png"]["error"]
    assert pages["anas.png"]["problem"] == "wrong_project"
    assert "another project" in pages["anas.png"]["error"] and "ana" not in pages["anas.png"]["error"]
    assert pages["letters.png"]["problem"] == "wrong_project"
    assert "your project 'cem's letters'" in pages["letters.png"]["error"]
    by_name = {scan["filename"]: scan for scan in scans_of(client, cem, cem_id)}
    assert by_name["own.png"]["status"] == "extracted"
    assert [by_name[n]["status"] for n in ("again.png", "anas.png", "letters.png")] == ["failed"] * 3
    assert_cells_right(client, cem, cem_id, by_name["own.png"]["id"], written)
    assert {c["scan_id"] for c in all_cells(client, cem, cem_id)} == {by_name["own.png"]["id"]}
    # The next sheet continues after the highest page number the project has.
    code = verify_sheet_code(key(client), read_sheet(
        decode_file(sheetpages.sheet_pdf(client, cem, cem_id), pdf_dpi=DPI).pages[0].gray).code)
    assert code.page == 8


# ------------------------------------------------------------------ bulk scans from the copier

@pytest.fixture(scope="module")
def copier_upload(world):
    """Three students' sheets (one upright, one upside down, one sideways and mirrored), a page without a code
    (an old plain grid) and a page with a forged code, as one PDF; uploaded once by the class's teacher."""
    client, users, projects, class_id, *_ = world
    written, pages = {}, []
    for seed, (name, turns, mirrored) in enumerate([("ana", 0, False), ("ben", 2, False), ("cem", 1, True)]):
        pdf = sheetpages.sheet_pdf(client, users[name], projects[name]["id"], page=20)
        gray, written[name] = sheetpages.filled(pdf, seed=10 + seed)
        pages.append(sheetpages.turned(gray, turns, mirrored))
    pages.append(scanpages.grid_page(seed=13))  # the legacy sheet: no code at all
    forged, _ = sheetpages.filled(sheetpages.forged_sheet_pdf(projects["ana"]["id"], page=21), seed=14)
    pages.append(forged)
    pdf = sheetpages.copier_pdf(pages)
    response = bulk(client, users["tess"], class_id, ("class 7b.pdf", pdf))
    assert response.status_code == 201, response.text
    return response.json(), written, pdf


def test_each_page_of_a_bulk_pdf_lands_with_its_student(world, copier_upload):
    client, users, projects, class_id, *_ = world
    result, written, _ = copier_upload
    assert (result["routed"], result["unassigned"], result["already_stored"]) == (3, 2, 0)
    outcomes = result["pages"]
    assert [p["page_index"] for p in outcomes] == [0, 1, 2, 3, 4]
    for page, name in zip(outcomes[:3], ("ana", "ben", "cem"), strict=True):
        assert page["outcome"] == "routed" and page["student"] == name
        assert page["project_id"] == projects[name]["id"] and page["sheet_page"] == 20
        job = wait_for_job(client, users[name], page["job_id"])
        assert job["status"] == "succeeded", job
        [scan] = [s for s in scans_of(client, users[name], projects[name]["id"]) if s["id"] == page["scan_id"]]
        assert scan["status"] == "extracted" and scan["sheet_page"] == 20
        assert_cells_right(client, users[name], projects[name]["id"], scan["id"], written[name])
        # The student's original is their page alone, never the class's PDF.
        original = client.get(scan["original_url"], headers=users[name].headers)
        assert original.headers["content-type"] == "image/png"
        assert decode_image(original.content).shape == (scan["height"], scan["width"])
    assert [(p["outcome"], p["problem"]) for p in outcomes[3:]] == [("unassigned", "no_code"),
                                                                      ("unassigned", "forged_code")]
    assert all(p["project_id"] is None and p["student"] is None for p in outcomes[3:])
    assert scans_of(client, users["olga"], projects["olga"]["id"]) == []


def test_the_tray_holds_the_pages_without_a_valid_code(world, copier_upload):
    client, users, projects, class_id, *_ = world
    result, _, _ = copier_upload
    waiting = tray(client, users["tess"], class_id)
    assert sorted(p["id"] for p in waiting) == sorted(p["unassigned_page_id"] for p in result["pages"][3:])
    for page in waiting:
        assert page["filename"] == "class 7b.pdf" and page["reason"]
        preview = client.get(page["preview_url"], headers=users["tess"].headers)
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
        assert max(decode_image(preview.content).shape) >= 1000  # big enough to read a nickname
        thumbnail = client.get(page["thumbnail_url"], headers=users["tess"].headers)
        assert thumbnail.status_code == 200 and max(decode_image(thumbnail.content).shape) <= 320


def test_the_same_pdf_again_stores_nothing_twice(world, copier_upload):
    client, users, projects, class_id, *_ = world
    _, _, pdf = copier_upload
    before = {name: len(scans_of(client, users[name], projects[name]["id"])) for name in ("ana", "ben", "cem")}
    tray_before = tray(client, users["tess"], class_id)
    response = bulk(client, users["tess"], class_id, ("again.pdf", pdf))
    assert response.status_code == 201, response.text
    assert response.json()["already_stored"] == 5 and response.json()["routed"] == 0
    assert {name: len(scans_of(client, users[name], projects[name]["id"])) for name in before} == before
    assert tray(client, users["tess"], class_id) == tray_before


def test_assigning_a_tray_page_extracts_it_in_the_students_project(world, copier_upload):
    client, users, projects, class_id, _, settings = world
    tess, ben, ben_id = users["tess"], users["ben"], projects["ben"]["id"]
    result, _, _ = copier_upload
    no_code = result["pages"][3]["unassigned_page_id"]
    targets = client.get(f"/api/classes/{class_id}/bulk-scans/targets", headers=tess.headers).json()
    assert {(t["student"], t["project_id"]) for t in targets} >= {("ben", ben_id), ("ana", projects["ana"]["id"])}
    assert "olga" not in {t["student"] for t in targets}
    # Not to a project outside the class, nor to a project that does not exist.
    for project_id in (projects["olga"]["id"], 10**6):
        response = client.post(f"/api/classes/{class_id}/unassigned-pages/{no_code}/assign",
                               json={"project_id": project_id}, headers=tess.headers)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = client.post(f"/api/classes/{class_id}/unassigned-pages/{no_code}/assign",
                           json={"project_id": ben_id}, headers=tess.headers)
    assert response.status_code == 201, response.text
    scan, job = response.json()["scan"], response.json()["job"]
    assert scan["project_id"] == ben_id and scan["media_type"] == "image/png"
    job = wait_for_job(client, ben, job["id"])
    assert job["status"] == "succeeded", job
    cells = [c for c in all_cells(client, ben, ben_id) if c["scan_id"] == scan["id"]]
    assert {(c["row"], c["col"]) for c in cells if c["status"] == "kept"} == scanpages.default_cells(13)
    waiting = tray(client, tess, class_id)
    assert no_code not in [p["id"] for p in waiting]
    assert client.get(f"/api/classes/{class_id}/unassigned-pages/{no_code}", headers=tess.headers).status_code == 404
    # Discarding the forged page empties the tray, files included.
    forged = result["pages"][4]["unassigned_page_id"]
    assert client.delete(f"/api/classes/{class_id}/unassigned-pages/{forged}", headers=tess.headers).status_code == 204
    assert tray(client, tess, class_id) == []
    assert stored_files(settings.files_dir / "classes" / str(class_id)) == set()


def test_a_page_of_a_project_outside_the_class_waits_and_cannot_go_to_a_student(world):
    client, users, projects, class_id, *_ = world
    tess = users["tess"]
    olgas, _ = sheetpages.filled(sheetpages.sheet_pdf(client, users["olga"], projects["olga"]["id"]), seed=30)
    response = bulk(client, tess, class_id, ("stray.pdf", sheetpages.copier_pdf([olgas])))
    assert response.status_code == 201, response.text
    [page] = response.json()["pages"]
    assert (page["outcome"], page["problem"]) == ("unassigned", "not_in_class")
    assert "not a student of this class" in page["reason"] and "olga" not in page["reason"]
    assert scans_of(client, users["olga"], projects["olga"]["id"]) == []
    refused = client.post(f"/api/classes/{class_id}/unassigned-pages/{page['unassigned_page_id']}/assign",
                          json={"project_id": projects["ana"]["id"]}, headers=tess.headers)
    assert refused.status_code == 409 and refused.json()["code"] == "wrong_project"
    assert client.delete(f"/api/classes/{class_id}/unassigned-pages/{page['unassigned_page_id']}",
                         headers=tess.headers).status_code == 204


def test_only_the_class_teachers_reach_its_bulk_scans_and_tray(world):
    client, users, projects, class_id, other_class, _ = world
    page = scanpages.png(scanpages.grid_page(seed=40))
    response = bulk(client, users["tess"], class_id, ("one.png", page))
    assert response.status_code == 201
    page_id = response.json()["pages"][0]["unassigned_page_id"]
    base = f"/api/classes/{class_id}"
    for who in ("ana", "olga", "tom"):  # a student of the class, a student of another, another class's teacher
        headers = users[who].headers
        assert bulk(client, users[who], class_id, ("x.png", scanpages.png(scanpages.grid_page(seed=41)))
                    ).status_code == 404
        for url in (f"{base}/unassigned-pages", f"{base}/unassigned-pages/{page_id}", f"{base}/bulk-scans/targets",
                    f"{base}/unassigned-pages/{page_id}/preview", f"{base}/unassigned-pages/{page_id}/thumbnail"):
            assert client.get(url, headers=headers).status_code == 404, (who, url)
        assert client.post(f"{base}/unassigned-pages/{page_id}/assign", json={"project_id": projects["ana"]["id"]},
                           headers=headers).status_code == 404
        assert client.delete(f"{base}/unassigned-pages/{page_id}", headers=headers).status_code == 404
    # tom's page id under his own class: still not found
    assert client.get(f"/api/classes/{other_class}/unassigned-pages/{page_id}",
                      headers=users["tom"].headers).status_code == 404
    assert page_id in [p["id"] for p in tray(client, users["tess"], class_id)]
    assert client.delete(f"{base}/unassigned-pages/{page_id}", headers=users["tess"].headers).status_code == 204


def test_bad_bulk_uploads_change_nothing(world):
    client, users, projects, class_id, *_ = world
    tess = users["tess"]
    before = tray(client, tess, class_id)
    for files in ([("junk.pdf", b"not a pdf at all")], [("empty.pdf", scanpages.empty_pdf())]):
        response = bulk(client, tess, class_id, *files)
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["detail"]
    response = client.post(f"/api/classes/{class_id}/bulk-scans", headers=tess.headers)
    assert response.status_code == 422 and response.json()["code"] == "no_files"
    assert tray(client, tess, class_id) == before
    with unit_of_work(client.app.state.engine) as session:
        rows = session.exec(select(UnassignedPage).where(UnassignedPage.class_id == class_id)).all()
        assert sorted(row.id for row in rows) == sorted(p["id"] for p in before)


def test_a_closed_class_takes_no_bulk_scans(world):
    client, users, projects, class_id, *_ = world
    from digitlab.classes.tables import SchoolClass
    from digitlab.core.clock import utcnow

    with unit_of_work(client.app.state.engine) as session:
        session.get(SchoolClass, class_id).closed_at = utcnow()
    try:
        response = bulk(client, users["tess"], class_id, ("x.png", scanpages.png(scanpages.grid_page(seed=42))))
        assert response.status_code == 409 and response.json()["code"] == "class_closed"
    finally:
        with unit_of_work(client.app.state.engine) as session:
            session.get(SchoolClass, class_id).closed_at = None
