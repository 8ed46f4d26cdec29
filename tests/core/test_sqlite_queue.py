"""Writers of one process queue for SQLite's write lock (core/sqlite_queue.py): a turn is held exactly as long as
the write transaction, however the transaction ends, so no request ever waits for a turn nobody is using."""

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from digitlab.core import sqlite_queue
from digitlab.core.db import make_engine


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    yield engine
    engine.dispose()


def turn_is_free(engine) -> bool:
    queue = sqlite_queue._queue_of(engine.url.database)
    return queue is not None and not queue.locked()


def count(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM notes")).scalar_one()


def test_a_write_transaction_holds_the_turn_until_it_commits_and_reads_never_take_it(engine):
    with engine.connect() as connection:
        connection.execute(text("SELECT count(*) FROM notes")).all()
        assert turn_is_free(engine)
        connection.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        assert not turn_is_free(engine)
        connection.execute(text("INSERT INTO notes (body) VALUES ('b')"))
        connection.commit()
        assert turn_is_free(engine)
    assert count(engine) == 2


def test_the_turn_is_given_back_by_a_rollback_a_failed_first_write_and_a_closed_connection(engine):
    with engine.connect() as connection:
        connection.execute(text("UPDATE notes SET body = 'x'"))
        connection.rollback()
        assert turn_is_free(engine)

        with pytest.raises(IntegrityError):
            connection.execute(text("INSERT INTO notes (body) VALUES (NULL)"))
        connection.rollback()
        assert turn_is_free(engine)

    raw = engine.raw_connection()
    raw.cursor().execute("INSERT INTO notes (body) VALUES ('never committed')")
    assert not turn_is_free(engine)
    raw.invalidate()  # closes the connection itself: its transaction is gone, and so is its turn
    assert turn_is_free(engine)
    assert count(engine) == 0


def test_a_waiting_writer_goes_on_when_the_writer_before_it_commits_in_another_thread(engine):
    """The API opens a request's transaction in one worker thread and may commit it in another."""
    first = engine.connect()
    first.execute(text("INSERT INTO notes (body) VALUES ('first')"))
    second_done = threading.Event()

    def second_writer() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO notes (body) VALUES ('second')"))
        second_done.set()

    waiting = threading.Thread(target=second_writer)
    waiting.start()
    assert not second_done.wait(0.5)  # it waits for its turn
    committer = threading.Thread(target=first.commit)
    committer.start()
    committer.join()
    assert second_done.wait(30)
    waiting.join()
    first.close()
    assert count(engine) == 2 and turn_is_free(engine)


def test_a_writer_that_never_gets_its_turn_fails_like_a_locked_database(engine, monkeypatch):
    monkeypatch.setattr(sqlite_queue, "WAIT_SECONDS", 0.2)
    holder = engine.connect()
    holder.execute(text("INSERT INTO notes (body) VALUES ('held')"))
    failure: list[BaseException] = []

    def writer() -> None:
        try:
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO notes (body) VALUES ('late')"))
        except OperationalError as exc:
            failure.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(30)
    holder.rollback()
    holder.close()
    assert failure and "database is locked" in str(failure[0])
    assert turn_is_free(engine) and count(engine) == 0


def test_a_forked_child_does_not_inherit_a_turn_taken_in_the_parent(engine):
    """Celery's pool forks its processes while the parent's heartbeat thread may be writing."""
    import os

    holder = engine.connect()
    holder.execute(text("INSERT INTO notes (body) VALUES ('held at the fork')"))
    assert not turn_is_free(engine)
    child = os.fork()
    if child == 0:  # the child only looks, and leaves without running any of pytest's clean-up
        os._exit(0 if turn_is_free(engine) else 1)
    _, status = os.waitpid(child, 0)
    holder.rollback()
    holder.close()
    assert os.waitstatus_to_exitcode(status) == 0
    assert turn_is_free(engine)
