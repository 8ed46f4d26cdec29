"""The scaled-out mode end to end: the API (in this process) on PostgreSQL sends jobs through the real Redis to
two `digitlab worker` processes started here, sharing the database and the data folder.

One module-scoped stack (workers cost seconds to start); the tests run in file order and the SIGKILL test
comes last-but-one, followed by a check that the stack still serves jobs.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from digitlab.core.config import Settings
from digitlab.jobs.claims import LOST_REASON
from digitlab.jobs.models import Job
from digitlab.main import create_app
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.api import scanpages
from tests.api.helpers import new_project, new_user, start_extraction, upload_files
from tests.api.trainings import digits, import_samples, start_training, trainings_url, wait_for_training
from tests.conftest import wait_for_job

pytestmark = [pytest.mark.scaleout, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
HEARTBEAT, STALE, POLL = 0.5, 4.0, 0.5


class Stack:
    def __init__(self, client: TestClient, settings: Settings, env: dict, logs: Path):
        self.client, self.settings, self.env, self.logs = client, settings, env, logs
        self.workers: list[subprocess.Popen] = []

    def start_worker(self, name: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "digitlab.cli", "worker", "--concurrency", "1", "--name", f"{name}@%h"],
            env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        process.log = log
        self.workers.append(process)
        return process

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            process.log.close()

    def job(self, job_id: int) -> Job:
        with Session(self.client.app.state.engine) as session:
            return session.get(Job, job_id)

    def ran_on(self, job_id: int) -> str | None:
        """The worker whose log says it claimed the job."""
        found = [p.stem for p in self.logs.glob("*.log") if f"job {job_id} claimed by" in p.read_text(errors="replace")]
        assert len(found) <= 1, found
        return found[0] if found else None

    def worker_log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs.glob("*.log"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory, redis_url, postgres_url):
    root = tmp_path_factory.mktemp("scaleout")
    data_dir = root / "data"
    queue = f"digitlab-test-{secrets.token_hex(4)}"  # this run's own queue on the shared Redis
    values = {"data_dir": str(data_dir), "database_url": postgres_url, "job_backend": "celery",
              "celery_broker_url": redis_url, "celery_queue": queue, "job_heartbeat_seconds": HEARTBEAT,
              "job_stale_seconds": STALE, "job_poll_seconds": POLL, "job_concurrency": 1, "job_prewarm": True,
              "training_threads": 1}
    settings = Settings(**values)
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGITLAB_")}
    env.update({f"DIGITLAB_{key.upper()}": str(value) for key, value in values.items()})
    env["PYTHONPATH"] = str(REPO / "backend")
    with TestClient(create_app(settings)) as client:  # migrates the database before the workers start
        stack = Stack(client, settings, env, root)
        stack.start_worker("w1")
        stack.start_worker("w2")
        try:
            yield stack
        finally:
            stack.stop_workers()
            _forget_queue(redis_url, queue)


def _forget_queue(redis_url: str, queue: str) -> None:
    """Leave nothing of this run in the shared Redis: its queue, and the unacknowledged message of the worker
    killed outright (Redis would put it back on the queue an hour later)."""
    import json

    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for tag, raw in client.hgetall("unacked").items():
        try:
            routing_key = json.loads(raw)[2]
        except (ValueError, IndexError, TypeError):
            continue
        if routing_key == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.close()


@pytest.fixture(scope="module")
def user(stack):
    return new_user(stack.client, "scaled")


@pytest.fixture(scope="module")
def project(stack, user):
    project = new_project(stack.client, user, "scaled out")
    x, y = digits(25, seed=7)
    import_samples(stack.client, user, project["id"], x, y)
    return project


def _wait_running(stack: Stack, user, training: dict, timeout: float = 60.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = stack.job(training["job_id"])
        if job.status == "running" and job.progress > 0:
            return job
        assert job.status in ("queued", "running"), (job, stack.worker_log())
        time.sleep(0.1)
    raise AssertionError(f"training {training['id']} never got going:\n{stack.worker_log()}")


def test_workers_answer_the_health_check_ping(stack):
    deadline = time.monotonic() + 30
    for name in ("w1", "w2"):
        while True:
            ping = subprocess.run([sys.executable, "-m", "digitlab.cli", "worker", "--ping", "--name", f"{name}@%h"],
                                  env=stack.env, cwd=REPO, capture_output=True, timeout=30)
            if ping.returncode == 0:
                break
            assert time.monotonic() < deadline, stack.worker_log()
            time.sleep(0.5)


def test_upload_extract_on_a_worker(stack, user, project):
    client = stack.client
    written = scanpages.default_cells(seed=5)
    upload_files(client, user, project["id"], ("page.png", scanpages.png(scanpages.grid_page(written, seed=5))))
    job = wait_for_job(client, user, start_extraction(client, user, project["id"])["id"], timeout=90)
    assert job["status"] == "succeeded", (job, stack.worker_log())
    assert job["result"]["kept"] >= 0.9 * len(written)
    row = stack.job(job["id"])
    host, _, pid = row.worker.rpartition(":")
    assert host and pid.isdigit() and int(pid) != os.getpid()  # claimed by a worker process, not the API


def test_two_trainings_run_in_parallel_on_the_two_workers_and_download_as_onnx(stack, user, project):
    client = stack.client
    first = start_training(client, user, project["id"], architecture="mlp", epochs=2, seed=1)
    second = start_training(client, user, project["id"], architecture="mlp", epochs=2, seed=2)
    done = [wait_for_training(client, user, t, timeout=120) for t in (first, second)]
    for training in done:
        assert training["status"] == "succeeded", (training, stack.worker_log())
        assert training["epochs_run"] == 2
    # Each worker takes one job at a time: both trainings were handed out at once, one to each worker.
    ran_on = {stack.ran_on(t["job_id"]) for t in (first, second)}
    assert ran_on == {"w1", "w2"}, stack.worker_log()

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


def test_cancel_reaches_a_job_on_a_worker(stack, user, project):
    client = stack.client
    training = start_training(client, user, project["id"], architecture="mlp", epochs=500, seed=3)
    _wait_running(stack, user, training)
    asked = time.monotonic()
    response = client.post(f"{trainings_url(project['id'], training['id'])}/cancel", headers=user.headers)
    assert response.status_code == 200, response.text
    ended = wait_for_training(client, user, training, timeout=20)
    assert ended["status"] == "cancelled", (ended, stack.worker_log())
    assert time.monotonic() - asked < 5


def test_sigkilled_worker_process_leaves_no_job_running_and_loses_no_data(stack, user, project):
    client = stack.client
    scans_before = client.get(f"/api/projects/{project['id']}/scans", headers=user.headers).json()
    dataset_before = client.get(f"/api/projects/{project['id']}/dataset", headers=user.headers).json()
    training = start_training(client, user, project["id"], architecture="mlp", epochs=500, seed=4)
    job = _wait_running(stack, user, training)
    os.kill(int(job.worker.rpartition(":")[2]), signal.SIGKILL)  # the process running the training
    killed = time.monotonic()
    ended = wait_for_training(client, user, training, timeout=STALE + 20)
    assert ended["status"] == "failed", (ended, stack.worker_log())
    assert time.monotonic() - killed < STALE + 10
    assert stack.job(training["job_id"]).error == LOST_REASON

    # Nothing uploaded or imported is lost.
    assert client.get(f"/api/projects/{project['id']}/scans", headers=user.headers).json() == scans_before
    for scan in scans_before:
        assert client.get(scan["original_url"], headers=user.headers).status_code == 200
    assert client.get(f"/api/projects/{project['id']}/dataset", headers=user.headers).json() == dataset_before

    # The redelivered message did not start the training again, and the workers still serve new jobs.
    time.sleep(1)
    assert stack.job(training["job_id"]).status == "failed"
    again = start_training(client, user, project["id"], architecture="mlp", epochs=1, seed=5)
    assert wait_for_training(client, user, again, timeout=90)["status"] == "succeeded", stack.worker_log()


def test_whole_worker_killed_job_failed_by_the_api_sweeper(stack, user, project):
    """The worker's parent and child both gone (a machine lost): no redelivery happens soon; the API's
    sweeper ends the job within job_stale_seconds."""
    client = stack.client
    training = start_training(client, user, project["id"], architecture="mlp", epochs=500, seed=6)
    job = _wait_running(stack, user, training)
    pid = int(job.worker.rpartition(":")[2])
    [owner] = [w for w in stack.workers if w.poll() is None and _is_descendant(pid, w.pid)]
    os.killpg(owner.pid, signal.SIGKILL)
    killed = time.monotonic()
    ended = wait_for_training(client, user, training, timeout=STALE + 20)
    assert ended["status"] == "failed" and stack.job(training["job_id"]).error == LOST_REASON
    assert time.monotonic() - killed < STALE + 10


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
