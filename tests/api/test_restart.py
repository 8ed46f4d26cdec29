"""A restart never leaves a job "running" forever and never loses an uploaded scan."""

import hashlib
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from digitlab.core.clock import utcnow
from digitlab.jobs.tables import Job
from digitlab.main import create_app
from tests.api import scanpages
from tests.api.helpers import new_project, new_user, start_long_extraction, upload_files
from tests.jobs.backends import pause_outside_writes
from tests.conftest import PASSWORD, UserHandle, make_settings, wait_for_job


def login(client, username) -> UserHandle:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return UserHandle(username, response.json()["access_token"])


def originals(client, user, project_id) -> dict[int, str]:
    scans = client.get(f"/api/projects/{project_id}/scans", headers=user.headers).json()
    result = {}
    for scan in scans:
        response = client.get(scan["original_url"], headers=user.headers)
        assert response.status_code == 200, scan
        assert client.get(scan["thumbnail_url"], headers=user.headers).status_code == 200
        result[scan["id"]] = hashlib.sha256(response.content).hexdigest()
    return result


def dead_pid() -> int:
    """The pid of a process that has ended (what a crashed service leaves in its job rows)."""
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(process.stdout)


def insert_running_job(engine, project_id: int, owner_id: int, worker: str, started_at) -> int:
    with Session(engine) as session:
        job = Job(project_id=project_id, owner_id=owner_id, kind="extraction", status="running",
                  params={"scan_ids": []}, worker=worker, started_at=started_at)
        session.add(job)
        session.commit()
        return job.id


def test_job_left_running_by_a_crash_is_failed_on_start(tmp_path):
    """The service died (no clean shutdown) while a job ran: the next start must not show it running."""
    settings = make_settings(tmp_path / "data")
    files = [("a.png", scanpages.small_png(1)), ("b.pdf", scanpages.pdf_pages(2)),
             ("c.jpg", scanpages.jpeg(scanpages.noise_page(seed=3)))]
    with TestClient(create_app(settings, run_jobs=False)) as client:
        user = new_user(client, "ida")
        project = new_project(client, user)
        scans = upload_files(client, user, project["id"], *files)
        owner_id = client.get("/api/auth/me", headers=user.headers).json()["id"]
        # What a crashed service process leaves behind: rows that say "running", with nobody running them.
        crashed = insert_running_job(client.app.state.engine, project["id"], owner_id,
                                     f"{socket.gethostname()}:{dead_pid()}", utcnow())
        never_started = insert_running_job(client.app.state.engine, project["id"], owner_id, None, None)
        assert client.get(f"/api/jobs/{crashed}", headers=user.headers).json()["status"] == "running"
        before = originals(client, user, project["id"])
    assert len(before) == 4

    with TestClient(create_app(settings)) as client:
        user = login(client, "ida")
        for job_id in (crashed, never_started):
            job = client.get(f"/api/jobs/{job_id}", headers=user.headers).json()
            assert job["status"] == "failed", job
            assert "restart" in job["error"].lower() and job["error_code"] == "job_interrupted"
            assert job["finished_at"] is not None
        assert originals(client, user, project["id"]) == before
        contents = dict(files)
        for scan in scans:
            assert client.get(scan["original_url"], headers=user.headers).content == contents[scan["filename"]]


@pytest.mark.slow
def test_stopping_the_service_during_a_job(tmp_path):
    """A real worker is running when the service stops; after the restart the job is failed, files intact."""
    settings = make_settings(tmp_path / "data", job_concurrency=1)
    with TestClient(create_app(settings)) as client:
        user = new_user(client, "jan")
        project = new_project(client, user)
        job = start_long_extraction(client, user, project["id"], pages=6, seed=60)
        runner = client.app.state.runner
        workers = runner.job_processes()
        # Held (SIGSTOP) so that it cannot finish before the service stops, however fast the machine: a worker
        # that does not answer SIGTERM is what the stop must cope with anyway.
        pause_outside_writes(runner.job_process(job["id"]).pid, settings.resolved_database_url, job["id"])
        before = originals(client, user, project["id"])

    for process in workers:  # the worker must not outlive the service
        assert not process.is_alive()

    with TestClient(create_app(settings)) as client:
        user = login(client, "jan")
        stopped = client.get(f"/api/jobs/{job['id']}", headers=user.headers).json()
        assert stopped["status"] == "failed", stopped
        assert "restart" in stopped["error"].lower() and stopped["error_code"] == "job_interrupted"
        assert originals(client, user, project["id"]) == before
        jobs = client.get(f"/api/projects/{project['id']}/jobs", headers=user.headers).json()
        assert all(j["status"] != "running" for j in jobs)


@pytest.mark.slow
def test_starting_a_second_instance_leaves_running_jobs_alone(tmp_path):
    """Scaled out, several service processes share one database and each runs jobs; one of them starting
    (or restarting) must not declare the jobs another one is running dead."""
    settings = make_settings(tmp_path / "data", job_concurrency=1)
    with TestClient(create_app(settings)) as client:
        user = new_user(client, "kim")
        project = new_project(client, user)
        job = start_long_extraction(client, user, project["id"], pages=12, seed=80)
        # A second service process starts on the same data and stops again.
        other = subprocess.run(
            [sys.executable, "-c", SECOND_INSTANCE, str(settings.data_dir), settings.database_url],
            capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
        assert other.returncode == 0, other.stderr[-2000:]
        seen = client.get(f"/api/jobs/{job['id']}", headers=user.headers).json()
        assert seen["status"] in ("running", "succeeded"), seen
        done = wait_for_job(client, user, job["id"])
        assert done["status"] == "succeeded", done
        assert len(done["result"]["pages"]) == 12


SECOND_INSTANCE = """
import sys
from fastapi.testclient import TestClient
from digitlab.core.config import Settings
from digitlab.main import create_app
with TestClient(create_app(Settings(data_dir=sys.argv[1], database_url=sys.argv[2], job_poll_seconds=0.2))) as client:
    assert client.get("/api/health").status_code == 200
"""
