"""PostgreSQL connections cut by the server (a restart, an administrator, a firewall) while they sat in the pool."""

import psycopg
import pytest
from sqlalchemy import exc

from digitlab.core.db import make_engine
from tests.conftest import POSTGRES_ADMIN, create_postgres_database, drop_postgres_database


@pytest.fixture
def database_url():
    name, url = create_postgres_database("digitlab_ping")
    yield url
    drop_postgres_database(name)


def backend_pid(engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


def cut(pid: int) -> None:
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)


def test_a_connection_cut_while_it_sat_idle_is_replaced_before_anyone_uses_it(database_url):
    engine = make_engine(database_url, ping_after_idle=0.0)
    try:
        first = backend_pid(engine)
        cut(first)
        assert backend_pid(engine) != first  # no error: the pool checked it and connected anew
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_trusted_and_a_cut_costs_one_failed_use(database_url):
    engine = make_engine(database_url, ping_after_idle=3600.0)
    try:
        first = backend_pid(engine)
        cut(first)
        with pytest.raises(exc.OperationalError):
            backend_pid(engine)  # not checked: it was in use a moment ago
        assert backend_pid(engine) != first  # the failure threw the pool away; the next use connects anew
    finally:
        engine.dispose()
