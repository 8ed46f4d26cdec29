"""The two job backends as the tests drive them: the embedded runner, and Celery with the real local Redis and
PostgreSQL and `digitlab worker` processes started here. Both answer the same questions (which process runs
this job, restart the service), so one job-behaviour suite runs against both (test_behaviour.py).

Helpers only (no tests); tests/jobs/conftest.py and tests/scaleout/ build their fixtures from them.
"""

import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from digitlab.core.config import Settings
from digitlab.core.db import make_engine
from digitlab.jobs.queue import Lane
from digitlab.jobs.tables import Job
from digitlab.main import create_app
from tests.conftest import TEST_JOB_NICE, make_settings

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"
# Beats twice a second; a job is given up after 6 s of silence. Short, so the tests of lost workers are quick,
# and safe on a busy machine: the beats come from the supervising process, never from the job's own
# (test_a_slow_job_is_not_declared_lost stops a job's process for longer than this).
HEARTBEAT, STALE = 0.5, 6.0
# Two jobs at once of each lane in both: two local slots (trainings) and two warm processes (extractions); two
# Celery workers, each with one process per lane.
LIMIT = 2


class Backend:
    """A running service with its job backend; `client` talks to its API."""

    name: str
    settings: Settings
    client: TestClient

    def __init__(self) -> None:
        self._client_context: TestClient | None = None

    def _open_api(self) -> None:
        self._client_context = TestClient(create_app(self.settings))
        self.client = self._client_context.__enter__()

    def _close_api(self) -> None:
        if self._client_context is not None:
            self._client_context.__exit__(None, None, None)
            self._client_context = None

    def job(self, job_id: int) -> Job:
        with Session(self.client.app.state.engine) as session:
            job = session.get(Job, job_id)
            assert job is not None, f"no job {job_id}"
            return job

    def job_pid(self, job_id: int) -> int:
        """The process running the job."""
        raise NotImplementedError

    def restart(self, while_down: Callable[[Engine], None] | None = None) -> None:
        """Stop the service (the API and what runs inside it), call `while_down` with an engine on its
        database, and start it again."""
        self._close_api()
        if while_down is not None:
            engine = make_engine(self.settings.resolved_database_url)
            try:
                while_down(engine)
            finally:
                engine.dispose()
        self._open_api()

    def log(self) -> str:
        """What the workers said, for assertion messages."""
        return ""

    def close(self) -> None:
        self._close_api()


class LocalBackend(Backend):
    name = "local"

    def __init__(self, root: Path, **overrides) -> None:
        super().__init__()
        self.settings = make_settings(
            root / "data",
            **{
                "job_concurrency": LIMIT,
                "extraction_concurrency": LIMIT,
                "job_heartbeat_seconds": HEARTBEAT,
                "job_stale_seconds": STALE,
            }
            | overrides,
        )
        self._open_api()

    def job_pid(self, job_id: int) -> int:
        process = self.client.app.state.runner.job_process(job_id)
        assert process is not None and process.pid is not None, f"job {job_id} is not running here"
        return process.pid


class CeleryBackend(Backend):
    """The API (in this process) on PostgreSQL sends jobs through Redis to `digitlab worker` processes started
    here (one job at a time each), sharing the database and the data folder."""

    name = "celery"

    def __init__(
        self, root: Path, redis_url: str, database_url: str, workers: tuple[str, ...] = ("w1", "w2"), **overrides
    ) -> None:
        super().__init__()
        self.root = root
        self.queue = f"digitlab-test-{secrets.token_hex(4)}"  # this run's own queue on the shared Redis
        self.redis_url = redis_url
        values = {
            "data_dir": str(root / "data"),
            "database_url": database_url,
            "job_backend": "celery",
            "celery_broker_url": redis_url,
            "celery_queue": self.queue,
            "job_heartbeat_seconds": HEARTBEAT,
            "job_stale_seconds": STALE,
            "job_poll_seconds": 0.5,
            "job_concurrency": 1,
            "extraction_concurrency": 1,
            "job_prewarm": False,
            "training_threads": 1,
            "job_nice": TEST_JOB_NICE,
            "extraction_nice": TEST_JOB_NICE,
        } | overrides
        self.settings = Settings(**values)
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("DIGITLAB_")}
        self.env.update({f"DIGITLAB_{key.upper()}": str(value) for key, value in values.items()})
        self.env["PYTHONPATH"] = str(REPO / "backend")
        self.workers: list[subprocess.Popen] = []
        self._open_api()  # migrates the database before the workers start
        try:
            for name in workers:
                self.start_worker(name)
            self.wait_for_workers(workers)
        except BaseException:
            self.close()
            raise

    def start_worker(self, name: str) -> subprocess.Popen:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "digitlab.cli", "worker", "--concurrency", "1", "--name", f"{name}@%h"],
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log = log  # type: ignore[attr-defined]
        self.workers.append(process)
        return process

    def wait_for_workers(self, names: tuple[str, ...], timeout: float = 120.0) -> None:
        """Until every worker's nodes (one per lane) are consuming (a job sent before that would wait, and time a
        test out)."""
        deadline = time.monotonic() + timeout
        for name in names:
            while (self.root / f"{name}.log").read_text(errors="replace").count(" ready.") < len(Lane):
                assert time.monotonic() < deadline, f"worker {name} did not start:\n{self.log()}"
                time.sleep(0.2)

    def job_pid(self, job_id: int) -> int:
        worker = self.job(job_id).worker
        assert worker, f"job {job_id} has not been claimed"
        return int(worker.rpartition(":")[2])

    def ran_on(self, job_id: int) -> str | None:
        """The worker whose log says it claimed the job."""
        found = [p.stem for p in self.root.glob("*.log") if f"job {job_id} claimed by" in p.read_text(errors="replace")]
        assert len(found) <= 1, found
        return found[0] if found else None

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.root.glob("*.log"))

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
            process.log.close()  # type: ignore[attr-defined]

    def close(self) -> None:
        try:
            self.stop_workers()
        finally:
            super().close()
            forget_queue(self.redis_url, self.queue)


# --- the servers the Celery backend needs ---------------------------------------------------------------------
def _redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def local_redis() -> str:
    """The local Redis's URL, starting it if it is installed but not running; skips the test otherwise."""
    if _redis_answers(REDIS_URL):
        return REDIS_URL
    if shutil.which("redis-server") is None:
        pytest.skip("Redis is not running at 127.0.0.1:6379 and redis-server is not installed")
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=False,
        capture_output=True,
        timeout=10,
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if _redis_answers(REDIS_URL):
            return REDIS_URL
        time.sleep(0.1)
    pytest.skip("Redis is not running at 127.0.0.1:6379 and `redis-server --daemonize yes` did not start it")


def forget_queue(redis_url: str, queue: str) -> None:
    """Leave nothing of a run in the shared Redis: its queue, and the unacknowledged messages of workers killed
    outright (Redis would put them back on the queue an hour later)."""
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


def pause_outside_writes(pid: int, database_url: str, job_id: int) -> int:
    """Stop a job's process (SIGSTOP) at a moment it holds no database lock, and return its pid. A process
    stopped inside a write would block every other writer (SQLite) or its job's row (PostgreSQL) until it goes on:
    the test's own requests would then wait for it."""
    deadline = time.monotonic() + 60
    while True:
        os.kill(pid, signal.SIGSTOP)
        while _process_state(pid) not in ("T", "t"):  # the signal lands a moment later
            time.sleep(0.001)
        if _job_row_writable(database_url, job_id):
            return pid
        os.kill(pid, signal.SIGCONT)
        assert time.monotonic() < deadline, "the job's process never paused outside a write"
        time.sleep(0.01)


def _process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def _job_row_writable(database_url: str, job_id: int) -> bool:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, timeout=0.3, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            connection.close()
    import psycopg

    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as connection:
        try:
            connection.execute("SELECT id FROM jobs WHERE id = %s FOR UPDATE NOWAIT", (job_id,))
            return True
        except psycopg.errors.LockNotAvailable:
            return False
