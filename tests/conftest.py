"""Fixtures shared by all tests: a service on a temporary data folder, and factories for users and projects.

With DIGITLAB_TEST_DATABASE=postgres every service a test starts gets a fresh PostgreSQL database on the local
server instead of SQLite (scripts/test runs the API suite that way too); they are dropped at the end.
"""

import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from fastapi.testclient import TestClient

from digitlab.core.config import Settings
from digitlab.main import create_app

PASSWORD = "correct horse battery"
T = TypeVar("T")
TEST_DATABASE = os.environ.get("DIGITLAB_TEST_DATABASE", "sqlite")
# The services tests start run their jobs at the tests' own priority: niced (the default, 10), a training got a
# tenth of the CPU that anything else running on a busy machine got, and its test waited minutes.
TEST_JOB_NICE = 0
POSTGRES_ADMIN = os.environ.get("DIGITLAB_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
_created_databases: list[str] = []


def create_postgres_database(prefix: str = "digitlab_test") -> tuple[str, str]:
    """A new, empty database on the local PostgreSQL: (name, SQLAlchemy URL). Skips the test if unreachable."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(5)}"
    try:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN}: {exc}")
    return name, f"postgresql+psycopg://{POSTGRES_ADMIN.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"


def drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database_url() -> str:
    """"" (SQLite in the data folder) or the URL of a new, empty PostgreSQL database."""
    if TEST_DATABASE != "postgres":
        return ""
    name, url = create_postgres_database()
    _created_databases.append(name)
    return url


@pytest.fixture(scope="session", autouse=True)
def _drop_test_databases() -> Iterator[None]:
    yield
    for name in _created_databases:
        drop_postgres_database(name)


def make_settings(data_dir: Path, **overrides) -> Settings:
    # No spare worker by default: most tests start many services, and each spare imports TensorFlow.
    # A small disk reserve: every service a test starts allocates it for real in its data folder.
    # Job processes not niced (TEST_JOB_NICE): the suite must also pass on a busy machine.
    values = {"data_dir": data_dir, "job_poll_seconds": 0.2, "job_concurrency": 2, "job_prewarm": False,
              "database_url": fresh_database_url(), "disk_reserve_bytes": 1024 * 1024, "job_nice": TEST_JOB_NICE,
              "extraction_nice": TEST_JOB_NICE}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@dataclass
class UserHandle:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_user(client: TestClient) -> Callable[..., UserHandle]:
    counter = iter(range(10_000))

    def factory(username: str | None = None) -> UserHandle:
        name = username or f"student{next(counter)}"
        response = client.post("/api/auth/register", json={"username": name, "password": PASSWORD})
        assert response.status_code == 201, response.text
        login = client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert login.status_code == 200, login.text
        return UserHandle(name, login.json()["access_token"])

    return factory


@pytest.fixture
def alice(make_user) -> UserHandle:
    return make_user("alice")


@pytest.fixture
def bob(make_user) -> UserHandle:
    return make_user("bob")


@pytest.fixture
def make_project(client: TestClient) -> Callable[..., dict]:
    def factory(user: UserHandle, name: str = "My digits", labels: list[str] | None = None) -> dict:
        body = {"name": name} | ({"labels": labels} if labels else {})
        response = client.post("/api/projects", json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        return response.json()

    return factory


FINISHED = ("succeeded", "failed", "cancelled")


def wait_until(probe: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    """The tests' one polling loop: probe() until done(value), for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{what}: not there within {timeout} s; last seen: {value}"
        time.sleep(0.05)


def job_finished(job: dict) -> bool:
    return job["status"] in FINISHED


def job_working(job: dict) -> bool:
    """Running and past its first progress report (its worker is inside the job's own code)."""
    return job["status"] == "running" and job["progress"] > 0


def wait_for_job(client: TestClient, user: UserHandle, job_id: int, timeout: float = 120.0,
                 until: Callable[[dict], bool] = job_finished) -> dict:
    """Poll GET /api/jobs/{id} until `until(job)` (by default: until it has finished)."""
    return wait_until(lambda: client.get(f"/api/jobs/{job_id}", headers=user.headers).json(), until, timeout,
                      f"job {job_id}")
