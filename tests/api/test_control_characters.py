"""A NUL (or another control character) in any text a user sends is a clear 422, never a server error.

PostgreSQL cannot store or even compare a NUL in text: a project name, a token name, a query parameter or a
login with one answered 500 there. Run with DIGITLAB_TEST_DATABASE=postgres too (scripts/test does).
"""

import pytest

from tests.api.datafiles import mnist_npz

BAD = ["\x00", "digits\x00", "tab\tbed", "two\nlines", "esc\x1b", "\x7f", "\u2028"]


def assert_422(response, where: str) -> None:
    assert response.status_code == 422, (where, response.status_code, response.text[:300])
    body = response.json()
    assert body["code"] == "validation_error" and "control characters" in body["detail"], body


@pytest.mark.parametrize("bad", BAD)
def test_project_names(client, alice, make_project, bad):
    project = make_project(alice, "kept")
    assert_422(client.post("/api/projects", json={"name": bad}, headers=alice.headers), "create")
    assert_422(client.patch(f"/api/projects/{project['id']}", json={"name": bad}, headers=alice.headers), "rename")
    assert [p["name"] for p in client.get("/api/projects", headers=alice.headers).json()] == ["kept"]


@pytest.mark.parametrize("bad", BAD)
def test_query_parameters_and_cell_labels(client, alice, make_project, bad):
    project = make_project(alice)
    base = f"/api/projects/{project['id']}"
    imported = client.post(f"{base}/dataset/import", headers=alice.headers,
                           files={"file": ("m.npz", mnist_npz([0, 1, 2]), "application/octet-stream")})
    assert imported.status_code == 201, imported.text
    cell = client.get(f"{base}/dataset/cells", headers=alice.headers).json()["items"][0]

    assert_422(client.get(f"{base}/dataset/cells", params={"label": bad}, headers=alice.headers), "cells?label")
    assert_422(client.get(f"{base}/jobs", params={"kind": bad}, headers=alice.headers), "jobs?kind")
    assert_422(client.patch(f"{base}/dataset/cells/{cell['id']}", json={"label": bad}, headers=alice.headers),
               "relabel")
    # The same requests with ordinary text work.
    assert client.get(f"{base}/dataset/cells", params={"label": "1"}, headers=alice.headers).status_code == 200
    assert client.get(f"{base}/jobs", params={"kind": "extraction"}, headers=alice.headers).status_code == 200
    again = client.get(f"{base}/dataset/cells/{cell['id']}/image.png", headers=alice.headers)
    assert again.status_code == 200  # the cell is untouched


def test_logins_with_a_nul_are_422_not_500(client, alice):
    for body in ({"username": "alice\x00", "password": "correct horse battery"},
                 {"username": "alice", "password": "correct horse battery\x00"}):
        assert_422(client.post("/api/auth/login", json=body), "login")
    assert_422(client.post("/api/auth/token", data={"username": "\x00", "password": "x"}), "token")
    assert_422(client.post("/api/auth/api-tokens", json={"name": "Moodle\x00"}, headers=alice.headers), "api token")


def _multipart(field: str, filename: bytes, content: bytes) -> tuple[bytes, str]:
    """A multipart body written by hand: HTTP clients escape control characters in file names, an attacker's
    client does not."""
    boundary = "digitlab-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"".encode()
            + filename + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content
            + f"\r\n--{boundary}--\r\n".encode())
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("name", [b"page\x00.png", b"m\x01.npz", b"tab\tbed.npz"])
def test_upload_file_names_with_control_characters_are_422_and_store_nothing(client, alice, make_project, name):
    project = make_project(alice)
    base = f"/api/projects/{project['id']}"
    for path, field in ((f"{base}/scans", "files"), (f"{base}/dataset/import", "file")):
        body, content_type = _multipart(field, name, mnist_npz([0, 1, 2]))
        response = client.post(path, content=body, headers={**alice.headers, "Content-Type": content_type})
        assert response.status_code == 422, (path, response.status_code, response.text[:300])
        assert response.json()["code"] == "invalid_file_name"
    assert client.get(f"{base}/scans", headers=alice.headers).json() == []
    assert client.get(f"{base}/dataset", headers=alice.headers).json()["total"] == 0
