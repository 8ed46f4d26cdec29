"""The real local Redis and PostgreSQL for the scaled-out tests (a fresh database per module, dropped after)."""

import shutil
import subprocess
import time

import pytest

from tests.conftest import create_postgres_database, drop_postgres_database

REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="module")
def redis_url() -> str:
    if _redis_answers():
        return REDIS_URL
    if shutil.which("redis-server") is None:
        pytest.skip("Redis is not running at 127.0.0.1:6379 and redis-server is not installed")
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
                    "--save", "", "--appendonly", "no"], check=False, capture_output=True, timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if _redis_answers():
            return REDIS_URL
        time.sleep(0.1)
    pytest.skip("Redis is not running at 127.0.0.1:6379 and `redis-server --daemonize yes` did not start it")


@pytest.fixture(scope="module")
def postgres_url():
    name, url = create_postgres_database("digitlab_scaleout")
    yield url
    drop_postgres_database(name)
