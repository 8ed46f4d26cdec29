"""Small request helpers for tests that build their own app (own settings, module-scoped data)."""

import time
from pathlib import Path

import cv2
import numpy as np

from tests.conftest import PASSWORD, UserHandle


def new_user(client, username: str) -> UserHandle:
    response = client.post("/api/auth/register", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    login = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return UserHandle(username, login.json()["access_token"])


def new_project(client, user: UserHandle, name: str = "digits", labels: list[str] | None = None) -> dict:
    body = {"name": name} | ({"labels": labels} if labels else {})
    response = client.post("/api/projects", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


def upload_files(client, user: UserHandle, project_id: int, *files: tuple[str, bytes]) -> list[dict]:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    response = client.post(f"/api/projects/{project_id}/scans", headers=user.headers, files=parts)
    assert response.status_code == 201, response.text
    return response.json()


def start_extraction(client, user: UserHandle, project_id: int, scan_ids: list[int] | None = None) -> dict:
    body = {} if scan_ids is None else {"scan_ids": scan_ids}
    response = client.post(f"/api/projects/{project_id}/extractions", json=body, headers=user.headers)
    assert response.status_code == 202, response.text
    return response.json()


def all_cells(client, user: UserHandle, project_id: int, which: str = "all") -> list[dict]:
    items, offset = [], 0
    while True:
        response = client.get(f"/api/projects/{project_id}/dataset/cells", headers=user.headers,
                              params={"which": which, "offset": offset, "limit": 1000})
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        offset += len(page["items"])
        if not page["items"] or offset >= page["total"]:
            return items


def stored_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def decode_image(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, "not an image"
    return image


def wait_for_status(client, user: UserHandle, job_id: int, leave: str | None = None, reach: str | None = None,
                    timeout: float = 20.0) -> dict:
    """Poll a job until its status is no longer `leave` (or until it is `reach`)."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}", headers=user.headers).json()
        if (leave is not None and job["status"] != leave) or (reach is not None and job["status"] == reach):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout} s"
        time.sleep(0.05)
