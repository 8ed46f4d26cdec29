"""The migrations: they build exactly the schema the code declares, and 0003 upgrades a database with data in
it (usernames that differ only in case, tables rebuilt for AUTOINCREMENT) without losing a row."""

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import SQLModel

from digitlab import all_tables  # noqa: F401  (every table on the metadata)
from digitlab.core.db import alembic_config, make_engine, migrate
from digitlab.main import create_app
from tests.conftest import PASSWORD, TEST_DATABASE, fresh_database_url, make_settings


def _migrate_to(engine, revision: str, direction: str = "upgrade") -> None:
    """Like digitlab.core.db.migrate, to a given revision (foreign keys off on SQLite, as there)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        with connection.begin():
            cfg.attributes["connection"] = connection
            getattr(command, direction)(cfg, revision)


def _schema_differences(engine) -> list:
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    return diffs


def test_the_migrations_build_the_declared_schema(tmp_path: Path):
    url = fresh_database_url() or f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    assert _schema_differences(engine) == []
    engine.dispose()


def test_0003_keeps_every_row_and_makes_case_twins_distinct(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = fresh_database_url() or f"sqlite:///{data_dir / 'digitlab.db'}"
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    _migrate_to(engine, "0002")
    from digitlab.core.security import hash_password

    pw = hash_password(PASSWORD)
    with engine.begin() as connection:
        for name in ["Mia", "mia", "MIA", "ben"]:
            connection.execute(text("INSERT INTO users (username, password_hash, role, created_at) "
                                    "VALUES (:n, :pw, 'student', '2026-01-01 00:00:00')"), {"n": name, "pw": pw})
        for owner in (1, 2, 4):
            connection.execute(text("INSERT INTO projects (owner_id, name, labels, created_at, updated_at) "
                                    "VALUES (:o, 'p', '[]', '2026-01-01', '2026-01-01')"), {"o": owner})
        connection.execute(text("INSERT INTO scans (project_id, sha256, filename, media_type, size_bytes, page_index, "
                                "page_count, width, height, status, kept_count, blank_count, rejected_count, "
                                "created_at) VALUES (1, 'ab', 'a.png', 'image/png', 1, 0, 1, 1, 1, 'extracted', "
                                "1, 0, 0, '2026-01-01')"))
        connection.execute(text("INSERT INTO cells (project_id, scan_id, source, label, original_label, status, "
                                "included) VALUES (1, 1, 'scan', '0', '0', 'kept', :yes)"), {"yes": True})
        connection.execute(text("INSERT INTO auth_tokens (user_id, kind, name, token_hash, prefix, created_at) "
                                "VALUES (2, 'api', 'moodle', 'h', 'dl_x', '2026-01-01')"))
    with engine.connect() as connection:
        before = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("users", "projects", "scans", "cells", "auth_tokens")}
    migrate(engine)  # 0002 -> head, as the service does at start
    with engine.connect() as connection:
        after = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in before}
        users = connection.execute(text("SELECT id, username, username_key FROM users ORDER BY id")).all()
        if sqlite:  # the tables were rebuilt: foreign keys back on for the service, none pointing nowhere
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    assert after == before  # the rebuild cascaded nothing away
    assert [tuple(u) for u in users] == [(1, "Mia", "mia"), (2, "mia-2", "mia-2"), (3, "MIA-3", "mia-3"),
                                         (4, "ben", "ben")]
    assert _schema_differences(engine) == []
    engine.dispose()

    with TestClient(create_app(make_settings(data_dir, database_url=url))) as client:
        def login(name):
            return client.post("/api/auth/login", json={"username": name, "password": PASSWORD})

        assert login("mia").json()["user"]["id"] == 1  # the oldest account keeps the name, in any case
        assert login("MIA-2").json()["user"]["id"] == 2  # the others log in with their new names
        assert login("mia-3").json()["user"]["id"] == 3
        taken = client.post("/api/auth/register", json={"username": "MIA", "password": PASSWORD})
        assert taken.status_code == 409
        # New ids continue after the highest ever used.
        token = login("ben").json()["access_token"]
        project = client.post("/api/projects", json={"name": "new"}, headers={"Authorization": f"Bearer {token}"})
        assert project.json()["id"] == 4


@pytest.mark.skipif(TEST_DATABASE == "postgres", reason="the SQLite rebuild is what can go wrong here")
def test_0003_downgrades_and_upgrades_again(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO users (username, username_key, password_hash, role, created_at) "
                                "VALUES ('Mia', 'mia', 'x', 'student', '2026-01-01')"))
    _migrate_to(engine, "0002", "downgrade")
    with engine.connect() as connection:
        sql = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'users'")).scalar()
        assert "AUTOINCREMENT" not in sql and "username_key" not in sql
    migrate(engine)
    assert _schema_differences(engine) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT username, username_key FROM users")).all() == [("Mia", "mia")]
    engine.dispose()
