"""One unit of work per request: all of a request's changes are committed together or not at all, and what
cannot be undone (handing a job to the runner, deleting files) happens only after the commit.

The commit is made to fail with a `before_commit` listener: the request then answers 500 and must have changed
nothing, neither rows nor files, and must not have sent anything to the job runner.
"""

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession

from digitlab.core.db import unit_of_work
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.tables import Job
from digitlab.main import create_app
from tests.api.datafiles import mnist_npz, upload_npz
from tests.api.helpers import new_project, new_user, stored_files, upload_files
from tests.api.scanpages import small_png
from tests.conftest import UserHandle, make_settings

TRAINING = {"architecture": "mlp", "epochs": 1}
_names = itertools.count()


class RecordingRunner(JobRunner):
    """Records what it is handed, and whether the job's row was committed by then (seen from another session)."""

    def __init__(self, engine):
        self.engine = engine
        self.submitted: list[tuple[int, dict | None]] = []
        self.cancelled: list[tuple[int, bool | None]] = []

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def submit(self, job_id: int) -> None:
        with unit_of_work(self.engine) as session:
            job = session.get(Job, job_id)
            self.submitted.append((job_id, None if job is None else dict(job.params)))

    def cancel(self, job_id: int) -> None:
        with unit_of_work(self.engine) as session:
            job = session.get(Job, job_id)
            self.cancelled.append((job_id, None if job is None else job.cancel_requested))


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("unit-of-work") / "data")
    with TestClient(create_app(settings, run_jobs=False), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def runner(client) -> RecordingRunner:
    client.app.state.runner = RecordingRunner(client.app.state.engine)
    return client.app.state.runner


@pytest.fixture
def user(client) -> UserHandle:
    return new_user(client, f"worker{next(_names)}")


@contextmanager
def failing_commits() -> Iterator[None]:
    def fail(_session) -> None:
        raise RuntimeError("the database refused the commit")

    event.listen(OrmSession, "before_commit", fail)
    try:
        yield
    finally:
        event.remove(OrmSession, "before_commit", fail)


def project_files(client: TestClient, project_id: int) -> set[Path]:
    return stored_files(client.app.state.settings.files_dir / "projects" / str(project_id))


def set_job_status(client: TestClient, job_id: int, status: str) -> None:
    with unit_of_work(client.app.state.engine) as session:
        job = session.get(Job, job_id)
        job.status = status


def test_jobs_reach_the_runner_only_after_their_commit(client, runner, user):
    project = new_project(client, user)
    upload_files(client, user, project["id"], ("page.png", small_png(1)))
    assert upload_npz(client, user, project["id"], mnist_npz([0, 0, 0, 1, 1, 1])).status_code == 201

    extraction = client.post(f"/api/projects/{project['id']}/extractions", json={}, headers=user.headers)
    training = client.post(f"/api/projects/{project['id']}/trainings", json=TRAINING, headers=user.headers)
    assert extraction.status_code == 202 and training.status_code == 202, (extraction.text, training.text)

    # The runner found both rows committed, the training's job already knowing its training.
    assert runner.submitted == [(extraction.json()["id"], {"scan_ids": extraction.json()["params"]["scan_ids"]}),
                                (training.json()["job_id"], {"training_id": training.json()["id"]})]


def test_a_failed_commit_enqueues_nothing(client, runner, user):
    project = new_project(client, user)
    upload_files(client, user, project["id"], ("page.png", small_png(2)))
    with failing_commits():
        response = client.post(f"/api/projects/{project['id']}/extractions", json={}, headers=user.headers)
    assert response.status_code == 500
    assert runner.submitted == []
    assert client.get(f"/api/projects/{project['id']}/jobs", headers=user.headers).json() == []


def test_a_failed_upload_leaves_no_files(client, runner, user):
    project = new_project(client, user)
    with failing_commits():
        response = client.post(f"/api/projects/{project['id']}/scans", headers=user.headers,
                               files=[("files", ("a.png", small_png(3), "image/png")),
                                      ("files", ("b.png", small_png(4), "image/png"))])
    assert response.status_code == 500
    assert client.get(f"/api/projects/{project['id']}/scans", headers=user.headers).json() == []
    assert project_files(client, project["id"]) == set()


def test_project_deletion_is_all_or_nothing(client, runner, user):
    project = new_project(client, user)
    upload_files(client, user, project["id"], ("page.png", small_png(5)))
    assert upload_npz(client, user, project["id"], mnist_npz([1, 2, 3])).status_code == 201
    queued = client.post(f"/api/projects/{project['id']}/extractions", json={}, headers=user.headers).json()
    running = client.post(f"/api/projects/{project['id']}/extractions", json={}, headers=user.headers).json()
    set_job_status(client, running["id"], "running")
    files = project_files(client, project["id"])
    assert files

    with failing_commits():
        assert client.delete(f"/api/projects/{project['id']}", headers=user.headers).status_code == 500
    # Nothing changed: the project, its scans, samples, jobs and files are all still there.
    before = client.get(f"/api/projects/{project['id']}", headers=user.headers)
    assert before.status_code == 200 and before.json()["scan_count"] == 1 and before.json()["sample_count"] == 3
    jobs = {job["id"]: job["status"] for job in
            client.get(f"/api/projects/{project['id']}/jobs", headers=user.headers).json()}
    assert jobs == {queued["id"]: "queued", running["id"]: "running"}
    assert project_files(client, project["id"]) == files
    assert runner.cancelled == []

    assert client.delete(f"/api/projects/{project['id']}", headers=user.headers).status_code == 204
    assert client.get(f"/api/projects/{project['id']}", headers=user.headers).status_code == 404
    assert project_files(client, project["id"]) == set()
    assert runner.cancelled == [(running["id"], None)]  # told after the commit: the job's row is gone by then


def test_scan_deletion_keeps_the_files_until_the_commit(client, runner, user):
    project = new_project(client, user)
    scan = upload_files(client, user, project["id"], ("page.png", small_png(6)))[0]
    files = project_files(client, project["id"])
    url = f"/api/projects/{project['id']}/scans/{scan['id']}"

    with failing_commits():
        assert client.delete(url, headers=user.headers).status_code == 500
    assert client.get(url, headers=user.headers).status_code == 200
    assert project_files(client, project["id"]) == files
    assert client.get(f"{url}/thumbnail", headers=user.headers).status_code == 200

    assert client.delete(url, headers=user.headers).status_code == 204
    assert client.get(url, headers=user.headers).status_code == 404
    assert project_files(client, project["id"]) == set()


def test_cancelling_a_running_job_reaches_the_runner_after_the_commit(client, runner, user):
    project = new_project(client, user)
    upload_files(client, user, project["id"], ("page.png", small_png(7)))
    job = client.post(f"/api/projects/{project['id']}/extractions", json={}, headers=user.headers).json()
    set_job_status(client, job["id"], "running")

    with failing_commits():
        assert client.post(f"/api/jobs/{job['id']}/cancel", headers=user.headers).status_code == 500
    assert runner.cancelled == []

    assert client.post(f"/api/jobs/{job['id']}/cancel", headers=user.headers).status_code == 200
    assert runner.cancelled == [(job["id"], True)]  # the runner saw the request committed
