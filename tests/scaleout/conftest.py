"""The real local Redis and PostgreSQL for the scaled-out tests (a fresh database per module, dropped after)."""

import pytest

from tests.conftest import create_postgres_database, drop_postgres_database
from tests.jobs.backends import local_redis


@pytest.fixture(scope="module")
def redis_url() -> str:
    return local_redis()


@pytest.fixture(scope="module")
def postgres_url():
    name, url = create_postgres_database("digitlab_scaleout")
    yield url
    drop_postgres_database(name)
