"""The embedded runner's guarantees: a lost worker ends its job within a bounded time, with a reason."""

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
from tests.api import scanpages
from tests.api.helpers import new_project, new_user, start_extraction, upload_files, wait_for_status
from tests.conftest import make_settings


def test_job_whose_worker_went_silent_is_failed_within_the_stale_limit(tmp_path):
    settings = make_settings(tmp_path / "data", job_stale_seconds=1.0)
    with TestClient(create_app(settings)) as client:
        user = new_user(client, "ola")
        project = new_project(client, user)
        owner_id = client.get("/api/auth/me", headers=user.headers).json()["id"]
        # A job another (live-looking) host claimed, whose heartbeats stopped a while ago.
        with Session(client.app.state.engine) as session:
            job = Job(project_id=project["id"], owner_id=owner_id, kind="extraction", status="running",
                      params={"scan_ids": []}, worker="other-host:1",
                      started_at=utcnow() - timedelta(seconds=30), heartbeat_at=utcnow() - timedelta(seconds=5))
            session.add(job)
            session.commit()
            job_id = job.id
        ended = wait_for_status(client, user, job_id, leave="running", timeout=10)
        assert ended["status"] == "failed"
        assert ended["error"] == LOST_REASON


def test_killed_worker_process_fails_its_job_with_a_reason(tmp_path):
    settings = make_settings(tmp_path / "data", job_concurrency=1)
    with TestClient(create_app(settings)) as client:
        user = new_user(client, "per")
        project = new_project(client, user)
        upload_files(client, user, project["id"],
                     *[(f"p{i}.png", scanpages.png(scanpages.grid_page(seed=200 + i))) for i in range(8)])
        job = start_extraction(client, user, project["id"])
        wait_for_status(client, user, job["id"], reach="running")
        runner = client.app.state.runner
        os.kill(runner._processes[job["id"]].pid, signal.SIGKILL)
        ended = wait_for_status(client, user, job["id"], leave="running", timeout=10)
        assert ended["status"] == "failed"
        assert "stopped unexpectedly" in ended["error"]
        # Nothing uploaded is lost: every original still downloads.
        for scan in client.get(f"/api/projects/{project['id']}/scans", headers=user.headers).json():
            assert client.get(scan["original_url"], headers=user.headers).status_code == 200


def test_a_job_is_handed_to_the_prewarmed_spare_worker(tmp_path):
    """With job_prewarm the spare process (code already imported) runs the job, and a new spare follows."""
    settings = make_settings(tmp_path / "data", job_prewarm=True)
    with TestClient(create_app(settings)) as client:
        runner = client.app.state.runner
        user = new_user(client, "eva")
        project = new_project(client, user)
        upload_files(client, user, project["id"], ("p.png", scanpages.png(scanpages.grid_page(seed=7))))
        spare = runner._standby[0]
        job = start_extraction(client, user, project["id"])
        done = wait_for_status(client, user, job["id"], reach="succeeded", timeout=90)
        assert done["result"]["pages"][0]["status"] == "ok"
        spare.join(timeout=10)
        assert spare.exitcode == 0  # a spare exits only after running the job it was handed
        deadline = time.monotonic() + 10
        while runner._standby is None or runner._standby[0].pid == spare.pid:
            assert time.monotonic() < deadline, "no new spare worker after the job"
            time.sleep(0.1)
