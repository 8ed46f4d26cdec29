"""Small request helpers for tests that build their own app (own settings, module-scoped data)."""

from pathlib import Path

import cv2
import numpy as np

from tests.api import scanpages
from tests.conftest import PASSWORD, UserHandle, job_working, wait_for_job


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


def upload_pages(client, user: UserHandle, project_id: int, count: int, seed: int) -> list[dict]:
    """`count` distinct filled-in grid pages (seeds seed, seed + 1, ...)."""
    pages = [(f"p{seed + i}.png", scanpages.png(scanpages.grid_page(seed=seed + i))) for i in range(count)]
    return upload_files(client, user, project_id, *pages)


def start_long_extraction(client, user: UserHandle, project_id: int, pages: int = 8, seed: int = 0,
                          wait: bool = True) -> dict:
    """Upload `pages` grid pages and start an extraction of all the project's scans; with `wait`, return once
    its worker is inside the job (running, first page done). The start of every test that stops, kills or
    cancels a job half-way."""
    upload_pages(client, user, project_id, pages, seed)
    job = start_extraction(client, user, project_id)
    return wait_for_job(client, user, job["id"], timeout=120, until=job_working) if wait else job
