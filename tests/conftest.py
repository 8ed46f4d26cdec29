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

import pytest
from fastapi.testclient import TestClient

from digitlab.core.config import Settings
from digitlab.main import create_app

PASSWORD = "correct horse battery"
TEST_DATABASE = os.environ.get("DIGITLAB_TEST_DATABASE", "sqlite")
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
    values = {"data_dir": data_dir, "job_poll_seconds": 0.2, "job_concurrency": 2, "job_prewarm": False,
              "database_url": fresh_database_url()}
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


def wait_for_job(client: TestClient, user: UserHandle, job_id: int, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=user.headers).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s: {job}")
