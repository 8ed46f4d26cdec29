"""What only the scaled-out mode does, end to end: the API (in this process) on PostgreSQL sends trainings
through the real Redis to two `digitlab worker` processes started here (children pre-importing TensorFlow),
sharing the database and the data folder. The job behaviour both backends share is in
tests/jobs/test_behaviour.py.

One module-scoped stack (workers cost seconds to start); the tests run in file order, the one that kills a
whole worker last.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from digitlab.jobs import states
from tests.api import scanpages
from tests.api.helpers import new_project, new_user, start_extraction, upload_files
from tests.api.trainings import digits, import_samples, start_training, trainings_url, wait_for_training
from tests.conftest import wait_for_job, wait_until
from tests.jobs.backends import REPO, STALE, CeleryBackend

pytestmark = [pytest.mark.scaleout, pytest.mark.slow]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, postgres_url):
    stack = CeleryBackend(tmp_path_factory.mktemp("scaleout"), redis_url, postgres_url, job_prewarm=True)
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def user(stack):
    return new_user(stack.client, "scaled")


@pytest.fixture(scope="module")
def project(stack, user):
    project = new_project(stack.client, user, "scaled out")
    x, y = digits(25, seed=7)
    import_samples(stack.client, user, project["id"], x, y)
    return project


def _training_under_way(stack: CeleryBackend, training: dict, timeout: float = 120.0) -> None:
    def under_way(job) -> bool:
        assert job.status in ("queued", "running"), (job, stack.log())
        return job.status == "running" and job.progress > 0

    wait_until(lambda: stack.job(training["job_id"]), under_way, timeout, f"training {training['id']}")


def test_workers_answer_the_health_check_ping(stack):
    def answers(name: str) -> bool:
        ping = subprocess.run(
            [sys.executable, "-m", "digitlab.cli", "worker", "--ping", "--name", f"{name}@%h"],
            env=stack.env,
            cwd=REPO,
            capture_output=True,
            timeout=30,
        )
        return ping.returncode == 0

    for name in ("w1", "w2"):
        wait_until(lambda name=name: answers(name), bool, 30, f"ping of {name}")


def test_upload_extract_on_a_worker(stack, user, project):
    client = stack.client
    written = scanpages.default_cells(seed=5)
    upload_files(client, user, project["id"], ("page.png", scanpages.png(scanpages.grid_page(written, seed=5))))
    job = wait_for_job(client, user, start_extraction(client, user, project["id"])["id"], timeout=90)
    assert job["status"] == "succeeded", (job, stack.log())
    assert job["result"]["kept"] >= 0.9 * len(written)
    host, _, pid = stack.job(job["id"]).worker.rpartition(":")
    assert host and pid.isdigit() and int(pid) != os.getpid()  # claimed by a worker process, not the API


def test_two_trainings_run_in_parallel_on_the_two_workers_and_download_as_onnx(stack, user, project):
    client = stack.client
    first = start_training(client, user, project["id"], architecture="mlp", epochs=2, seed=1)
    second = start_training(client, user, project["id"], architecture="mlp", epochs=2, seed=2)
    done = [wait_for_training(client, user, t, timeout=180) for t in (first, second)]
    for training in done:
        assert training["status"] == "succeeded", (training, stack.log())
        assert training["epochs_run"] == 2
    # Each worker takes one job at a time: both trainings were handed out at once, one to each worker.
    ran_on = {stack.ran_on(t["job_id"]) for t in (first, second)}
    assert ran_on == {"w1", "w2"}, stack.log()

    import onnxruntime

    response = client.get(f"{trainings_url(project['id'], first['id'])}/files/model.onnx", headers=user.headers)
    assert response.status_code == 200
    session = onnxruntime.InferenceSession(response.content, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 28, 28, 1), np.float32)})
    assert outputs[-1].shape == (1, 10)
    history = client.get(f"{trainings_url(project['id'], first['id'])}/history", headers=user.headers).json()
    assert [m["type"] for m in history].count("epoch") == 2  # the worker's events reach the API via the DB
    # TensorFlow ran only in the per-job children: the workers' parents (which fork them) never loaded it.
    for worker in stack.workers:
        assert "tensorflow" not in Path(f"/proc/{worker.pid}/maps").read_text()


def test_cancel_reaches_a_training_on_a_worker(stack, user, project):
    client = stack.client
    training = start_training(client, user, project["id"], architecture="mlp", epochs=500, seed=3)
    _training_under_way(stack, training)
    asked = time.monotonic()
    response = client.post(f"{trainings_url(project['id'], training['id'])}/cancel", headers=user.headers)
    assert response.status_code == 200, response.text
    ended = wait_for_training(client, user, training, timeout=30)
    assert ended["status"] == "cancelled", (ended, stack.log())
    assert ended["stopped"] == "cancelled"
    assert time.monotonic() - asked < 10


def test_whole_worker_killed_job_failed_by_the_api_sweeper(stack, user, project):
    """The worker's parent and child both gone (a machine lost): nobody beats for its job, no redelivery happens
    soon; the API's sweeper ends the job once it has been silent for job_stale_seconds."""
    client = stack.client
    training = start_training(client, user, project["id"], architecture="mlp", epochs=500, seed=6)
    _training_under_way(stack, training)
    pid = stack.job_pid(training["job_id"])
    [owner] = [w for w in stack.workers if w.poll() is None and _is_descendant(pid, w.pid)]
    os.killpg(owner.pid, signal.SIGKILL)
    killed = time.monotonic()
    ended = wait_for_training(client, user, training, timeout=STALE + 30)
    assert ended["status"] == "failed" and stack.job(training["job_id"]).error == states.LOST_REASON.sentence
    assert STALE - 1 < time.monotonic() - killed < STALE + 20


def _is_descendant(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rpartition(")")[2].split()[1])
    return False
