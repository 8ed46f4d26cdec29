"""`backend`: one running service per test module and backend, the embedded runner and Celery (the latter with
the real local Redis and PostgreSQL, marked scaleout). `running_backend` starts one with other settings."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from digitlab.core.db import make_engine, migrate
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.jobs.backends import Backend, CeleryBackend, LocalBackend, local_redis

BACKENDS = ["local", pytest.param("celery", marks=[pytest.mark.scaleout, pytest.mark.slow])]


@contextmanager
def running_backend(kind: str, root: Path, **overrides) -> Iterator[Backend]:
    if kind == "local":
        started: Backend = LocalBackend(root, **overrides)
        try:
            yield started
        finally:
            started.close()
        return
    redis_url = local_redis()
    name, database_url = create_postgres_database("digitlab_jobs")
    try:
        started = CeleryBackend(root, redis_url, database_url, **overrides)
        try:
            yield started
        finally:
            started.close()
    finally:
        drop_postgres_database(name)


@pytest.fixture
def engine(tmp_path):
    """A migrated SQLite database of the test's own, for the tests of the state machine and the queue."""
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, tmp_path_factory) -> Iterator[Backend]:
    with running_backend(request.param, tmp_path_factory.mktemp(request.param)) as started:
        yield started
