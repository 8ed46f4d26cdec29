"""Projects: label sets, listing, renaming, locking the labels, deleting, the printable sheet."""

import pypdfium2 as pdfium
import pytest

from tests.api.datafiles import mnist_npz, upload_npz
from tests.api.scanpages import small_png

DIGITS = [str(d) for d in range(10)]


def test_new_project_has_the_digit_labels(client, alice):
    response = client.post("/api/projects", json={"name": "  My   digits "}, headers=alice.headers)
    assert response.status_code == 201, response.text
    project = response.json()
    assert project["labels"] == DIGITS
    assert project["name"] == "My digits"
    assert project["scan_count"] == 0 and project["sample_count"] == 0
    assert client.get(f"/api/projects/{project['id']}", headers=alice.headers).json() == project


@pytest.mark.parametrize("labels", [
    ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
    ["ä", "€", "ß", "Ω", "→", "x", "y", "z", "10", "elf"],
    ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"],
    ["12345678", "+", "-", "*", "=", "<", ">", "(", ")", "%"],
])
def test_custom_labels_are_kept(client, alice, labels):
    response = client.post("/api/projects", json={"name": "symbols", "labels": labels}, headers=alice.headers)
    assert response.status_code == 201, response.text
    project_id = response.json()["id"]
    assert client.get(f"/api/projects/{project_id}", headers=alice.headers).json()["labels"] == labels


@pytest.mark.parametrize("labels", [
    DIGITS[:9],                      # nine labels
    DIGITS + ["10"],                 # eleven
    ["a"] * 10,                      # all the same
    DIGITS[:9] + ["0"],              # one duplicate
    DIGITS[:9] + [""],               # empty
    DIGITS[:9] + ["   "],            # blank
    DIGITS[:9] + ["123456789"],      # nine characters
    DIGITS[:9] + ["a/b"],            # a slash
    DIGITS[:9] + ["a\\b"],           # a backslash
    DIGITS[:9] + ["a\nb"],           # a control character
    "0123456789",                    # not a list
])
def test_invalid_label_sets_are_refused(client, alice, labels):
    response = client.post("/api/projects", json={"name": "bad", "labels": labels}, headers=alice.headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"] and body["code"] == "validation_error"
    assert client.get("/api/projects", headers=alice.headers).json() == []


def test_project_name_is_required(client, alice):
    for body in [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}]:
        assert client.post("/api/projects", json=body, headers=alice.headers).status_code == 422, body


def test_list_shows_only_own_projects(client, alice, bob, make_project):
    a1 = make_project(alice, "alice 1")
    a2 = make_project(alice, "alice 2")
    b1 = make_project(bob, "bob 1")
    assert [p["id"] for p in client.get("/api/projects", headers=alice.headers).json()] == [a1["id"], a2["id"]]
    assert [p["id"] for p in client.get("/api/projects", headers=bob.headers).json()] == [b1["id"]]


def test_rename(client, alice, make_project):
    project = make_project(alice, "old name")
    response = client.patch(f"/api/projects/{project['id']}", json={"name": "new name"}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "new name"
    assert response.json()["labels"] == DIGITS
    assert client.get(f"/api/projects/{project['id']}", headers=alice.headers).json()["name"] == "new name"
    blank = client.patch(f"/api/projects/{project['id']}", json={"name": " "}, headers=alice.headers)
    assert blank.status_code == 422
    assert client.get(f"/api/projects/{project['id']}", headers=alice.headers).json()["name"] == "new name"


def test_labels_change_while_empty_then_lock_once_samples_exist(client, alice, make_project):
    project = make_project(alice)
    url = f"/api/projects/{project['id']}"
    letters = list("abcdefghij")
    changed = client.patch(url, json={"labels": letters}, headers=alice.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["labels"] == letters

    imported = upload_npz(client, alice, project["id"], mnist_npz([0, 1, 2, 3]))
    assert imported.status_code == 201, imported.text
    assert client.get(url, headers=alice.headers).json()["sample_count"] == 4

    refused = client.patch(url, json={"labels": DIGITS}, headers=alice.headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "labels_locked"
    assert client.get(url, headers=alice.headers).json()["labels"] == letters
    # Renaming still works, and sending the unchanged labels along is not a change.
    renamed = client.patch(url, json={"name": "renamed", "labels": letters}, headers=alice.headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"


def test_delete_removes_project_and_its_files(client, alice, make_project, settings):
    project = make_project(alice)
    other = make_project(alice, "keep me")
    upload = client.post(f"/api/projects/{project['id']}/scans", headers=alice.headers,
                         files={"files": ("page.png", small_png(1), "image/png")})
    assert upload.status_code == 201, upload.text
    client.post(f"/api/projects/{other['id']}/scans", headers=alice.headers,
                files={"files": ("page.png", small_png(2), "image/png")})
    assert upload_npz(client, alice, project["id"], mnist_npz([1, 2])).status_code == 201
    folder = settings.files_dir / "projects" / str(project["id"])
    assert folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))

    assert client.delete(f"/api/projects/{project['id']}", headers=alice.headers).status_code == 204
    assert client.get(f"/api/projects/{project['id']}", headers=alice.headers).status_code == 404
    assert client.get(f"/api/projects/{project['id']}/scans", headers=alice.headers).status_code == 404
    assert client.get(f"/api/projects/{project['id']}/dataset", headers=alice.headers).status_code == 404
    assert not folder.exists()
    assert [p["id"] for p in client.get("/api/projects", headers=alice.headers).json()] == [other["id"]]
    assert (settings.files_dir / "projects" / str(other["id"])).is_dir()
    assert client.delete(f"/api/projects/{project['id']}", headers=alice.headers).status_code == 404


def test_unknown_project_is_404(client, alice):
    for method in ("get", "delete"):
        response = getattr(client, method)("/api/projects/987654", headers=alice.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_sheet_pdf_is_one_a4_page(client, alice, make_project):
    project = make_project(alice, "Symbole", labels=["ä", "€", "b", "c", "d", "e", "f", "g", "h", "i"])
    response = client.get(f"/api/projects/{project['id']}/sheet.pdf", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    pdf = pdfium.PdfDocument(response.content)
    try:
        assert len(pdf) == 1
        width, height = pdf[0].get_size()
        assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)
        text = pdf[0].get_textpage().get_text_range()
        assert "€" in text and "ä" in text
    finally:
        pdf.close()
