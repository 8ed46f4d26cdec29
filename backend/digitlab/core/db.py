"""Database engine, sessions and migrations (SQLite by default, PostgreSQL when the URL says so)."""

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine, event, exc
from sqlmodel import Session, create_engine

from digitlab.core.sqlite_queue import WriteQueueConnection

if TYPE_CHECKING:
    from digitlab.core.config import Settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Every table's __table_args__ includes this: on SQLite, ids come from AUTOINCREMENT, so the id of a deleted
# row is never handed out again (plain SQLite reuses the highest one, and a stale WebSocket once streamed
# another user's training that way). PostgreSQL sequences never reuse ids anyway.
NO_ID_REUSE = {"sqlite_autoincrement": True}


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def stored_id(row: _Row) -> int:
    """The id of a row that is in the database (loaded, or added and flushed). SQLModel types every id as
    `int | None` because a new object has none until its first flush; this states where it cannot be None."""
    if row.id is None:
        raise RuntimeError(f"this {type(row).__name__} has no id yet: it must be flushed first")
    return row.id


_IDLE_SINCE = "digitlab.idle_since"
PING_AFTER_IDLE_SECONDS = 5.0  # a pooled PostgreSQL connection idle this long is checked before use


def make_engine(url: str, ping_after_idle: float = PING_AFTER_IDLE_SECONDS) -> Engine:
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        # Worker processes write job progress while the API reads: WAL lets readers and one writer
        # work at once, and the busy timeout makes concurrent writers wait instead of failing.
        # Writers of this process queue for the write lock (sqlite_queue) instead of polling for it.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30, "factory": WriteQueueConnection}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Deleted rows are overwritten with zeros, not left readable in free pages (a deleted student's data).
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    _ping_after_idle(engine, ping_after_idle)
    return engine


def _ping_after_idle(engine: Engine, seconds: float) -> None:
    """Check a pooled connection before use only when it has been idle for `seconds`: a server restart or a
    firewall may have cut it since, and then it is replaced. pool_pre_ping pings on every checkout: one more of a
    request's six or so round trips, each of which waits for the server's process to be scheduled on a busy CPU.
    A connection that was in use a moment ago is alive; if the server goes away all the same, the failing
    request makes SQLAlchemy throw away the whole pool, and the next requests connect anew."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record):
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection, record, _proxy):
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < seconds:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError("the pooled connection is gone") from error  # the pool connects anew


def _private_sqlite_file(url: str) -> None:
    """The database file and its WAL and shared-memory files readable by their owner only (0600), created so
    before SQLite opens it (SQLite gives its -wal and -shm files the database file's permissions)."""
    from sqlalchemy.engine import make_url

    from digitlab.core.storage import private_dir, private_file

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.exists():
        private_dir(path.parent)
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.chmod(companion, 0o600)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Apply all migrations; run on every start so a new version upgrades the database by itself."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # Migrations rebuild SQLite tables (copy, drop, rename). With foreign keys on, dropping a parent
            # table deletes its children's rows (ON DELETE CASCADE). SQLite ignores this pragma inside a
            # transaction, so it is set before the migration's transaction, checked, and restored after.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, "head")
                if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                    raise RuntimeError(f"migration left rows whose foreign keys point nowhere: {broken[:5]}")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def migration_state(engine: Engine) -> tuple[set[str], set[str]]:
    """(the database's revisions, the code's latest revisions): equal when every migration is applied."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config("")).get_heads())
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads()), heads


def require_migrated(engine: Engine) -> None:
    """For a service started with migrate_on_start=false: refuse to run on a database `digitlab migrate`
    has not brought up to date (an api replica started before the migration step, or an older schema)."""
    current, heads = migration_state(engine)
    if current != heads:
        raise RuntimeError(
            f"The database is at migration {sorted(current) or 'none'}, this version needs "
            f"{sorted(heads)}: run `digitlab migrate` first."
        )


def open_database(settings: "Settings") -> Engine:
    """The database of a service or a CLI command, ready to use: the data folder private (owner only: the
    database and the students' files), the schema migrated, or only checked when `digitlab migrate` runs as its own
    step (the scaled-out deployment)."""
    from digitlab.core.storage import private_dir

    private_dir(settings.data_dir)
    engine = make_engine(settings.resolved_database_url)
    if settings.migrate_on_start:
        migrate(engine)
    else:
        require_migrated(engine)
    return engine


_AFTER_COMMIT = "digitlab.after_commit"
_AFTER_ROLLBACK = "digitlab.after_rollback"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the unit of work that owns `session` has committed, never if it rolls back: what
    must not happen for changes that may still be undone (hand a job to the runner, delete files)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


def after_rollback(session: Session, action: Callable[[], None]) -> None:
    """Run `action` if the unit of work that owns `session` rolls back (remove files written for rows that
    will not exist)."""
    session.info.setdefault(_AFTER_ROLLBACK, []).append(action)


def release_connection(session: Session) -> None:
    """Ends what a request has only read so far, so that its pooled connection is free during a long step that
    needs no database (decoding an upload's pages while it waits for a decode slot); the next query takes a
    connection again. Only before the request's own changes (whatever is flushed already, such as a token's
    last use, is committed here): thirty uploads waiting for two decode slots held
    every pooled connection, and a student's click waited seconds for one."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("release_connection after a change: the change would be committed early")
    session.commit()


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """The one way to change the database: commits when the block ends normally, rolls back when it raises.
    Requests get one per request (api.deps), workers one per step of a job. Inside, code only flushes;
    what must wait for the outcome is registered with after_commit / after_rollback."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            for action in session.info.pop(_AFTER_ROLLBACK, []):
                try:
                    action()
                except Exception:  # a failed clean-up must not hide why the work failed
                    log.exception("clean-up after a rollback failed")
            raise
        for action in session.info.pop(_AFTER_COMMIT, []):
            action()
