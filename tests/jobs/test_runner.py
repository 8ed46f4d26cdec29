"""The embedded runner's guarantees that need no extraction: lost workers end, slots are respected."""

import os
import signal
import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from digitlab.core.models import utcnow
from digitlab.jobs.models import Job
from digitlab.jobs.runner import LOST_REASON
from digitlab.main import create_app
from tests.conftest import make_settings


def _insert_running_job(engine, project_id: int, owner_id: int, **values) -> int:  # noqa: ANN001
    with Session(engine) as session:
        job = Job(project_id=project_id, owner_id=owner_id, kind="extraction", status="running",
                  params={"scan_ids": []}, **values)
        session.add(job)
        session.commit()
        return job.id


def test_job_whose_worker_went_silent_is_failed_within_the_stale_limit(tmp_path):
    settings = make_settings(tmp_path / "data", job_stale_seconds=1.0)
    with TestClient(create_app(settings)) as client:
        client.post("/api/auth/register", json={"username": "ola", "password": "long enough pw"})
        token = client.post("/api/auth/login", json={"username": "ola", "password": "long enough pw"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        project = client.post("/api/projects", json={"name": "p"}, headers=headers).json()
        # A job another (live-looking) host claimed, whose heartbeats stopped a while ago.
        job_id = _insert_running_job(client.app.state.engine, project["id"], token["user"]["id"],
                                     worker="other-host:1", started_at=utcnow() - timedelta(seconds=30),
                                     heartbeat_at=utcnow() - timedelta(seconds=5))
        deadline = time.monotonic() + 10
        while (job := client.get(f"/api/jobs/{job_id}", headers=headers).json())["status"] == "running":
            assert time.monotonic() < deadline, "a job without heartbeats stayed running"
            time.sleep(0.1)
        assert job["status"] == "failed"
        assert job["error"] == LOST_REASON


def test_killed_worker_process_fails_its_job_with_a_reason(tmp_path):
    from tests.api import scanpages

    settings = make_settings(tmp_path / "data", job_concurrency=1)
    with TestClient(create_app(settings)) as client:
        client.post("/api/auth/register", json={"username": "per", "password": "long enough pw"})
        token = client.post("/api/auth/login", json={"username": "per", "password": "long enough pw"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        project = client.post("/api/projects", json={"name": "p"}, headers=headers).json()
        files = [("files", (f"p{i}.png", scanpages.png(scanpages.grid_page(seed=200 + i)), "image/png"))
                 for i in range(8)]
        assert client.post(f"/api/projects/{project['id']}/scans", files=files, headers=headers).status_code == 201
        job = client.post(f"/api/projects/{project['id']}/extractions", json={}, headers=headers).json()
        runner = client.app.state.runner
        deadline = time.monotonic() + 20
        while not runner.running_job_ids():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(runner._processes[job["id"]].pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while (state := client.get(f"/api/jobs/{job['id']}", headers=headers).json())["status"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert state["status"] == "failed"
        assert "stopped unexpectedly" in state["error"]
        # Nothing uploaded is lost: every original still downloads.
        for scan in client.get(f"/api/projects/{project['id']}/scans", headers=headers).json():
            assert client.get(scan["original_url"], headers=headers).status_code == 200
