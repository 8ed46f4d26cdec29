"""The real local Redis and PostgreSQL for the scaled-out tests (a fresh database per module, dropped after)."""

import secrets
import shutil
import subprocess
import time

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


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
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(POSTGRES_SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_SERVER}: {exc}")
    name = f"digitlab_scaleout_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
