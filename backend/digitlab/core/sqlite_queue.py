"""SQLite writers of one process take turns in a queue instead of in SQLite's busy handler.

SQLite lets one transaction write at a time. A writer that finds the database locked sleeps in its busy handler,
1, 2, 5 ... up to 100 ms at a time, and takes the lock only if it happens to look while it is free. In a class's
first minute the API's short write transactions (1-60 ms each, the lock busy a third to two thirds of each second)
waited up to 0.9-1.4 s that way, in no order. Here a write transaction of this process first waits for a lock of this
process, which hands over the moment the previous transaction ends; only other processes (job workers, whose
writes take about a millisecond) still meet the busy handler. SQLite's own locking stays what keeps the data safe.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from typing import Any

# Python's sqlite3 opens a transaction (BEGIN) before these statements and no others; that is where the
# database's write lock is taken.
_OPENS_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_queues: dict[str, threading.Lock] = {}
_queues_guard = threading.Lock()
WAIT_SECONDS = 30.0  # as long as the busy timeout: a writer waits the same time before "database is locked"


def _forget_queues_in_child() -> None:
    """A forked child (a Celery pool process) starts with queues of its own: a turn that another thread of the
    parent held at the fork would otherwise stay taken in the child for good."""
    global _queues_guard
    _queues_guard = threading.Lock()
    _queues.clear()


os.register_at_fork(after_in_child=_forget_queues_in_child)


def _queue_of(database: str) -> threading.Lock | None:
    """One queue per database file in this process; none for a private in-memory database."""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    key = os.path.realpath(database.removeprefix("file:").partition("?")[0])
    with _queues_guard:
        return _queues.setdefault(key, threading.Lock())


class WriteQueueConnection(sqlite3.Connection):
    """A connection whose write transactions wait for their turn in this process's queue (pass it to
    `sqlite3.connect` as `factory`). The turn is held from the statement that opens the transaction to its
    commit or rollback, whichever thread ends it."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._queue = _queue_of(os.fsdecode(database))
        self._has_turn = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _QueuedCursor)

    def take_turn_for(self, statement: str) -> None:
        if self._queue is None or self._has_turn or self.in_transaction or not _OPENS_WRITE.match(statement):
            return
        if not self._queue.acquire(timeout=WAIT_SECONDS):
            raise sqlite3.OperationalError("database is locked")
        self._has_turn = True

    def end_turn_unless_writing(self) -> None:
        """After a statement that failed before its transaction began, and after every commit and rollback."""
        if self._has_turn and not self.in_transaction:
            self._give_up_turn()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.end_turn_unless_writing()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.end_turn_unless_writing()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_up_turn()  # a closed connection's transaction is gone

    def __del__(self) -> None:  # a connection dropped without close() must not keep the turn
        self._give_up_turn()

    def _give_up_turn(self) -> None:
        if getattr(self, "_has_turn", False):
            self._has_turn = False
            assert self._queue is not None
            self._queue.release()


class _QueuedCursor(sqlite3.Cursor):
    connection: WriteQueueConnection

    def execute(self, statement: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.take_turn_for(statement)
        try:
            return super().execute(statement, parameters)
        finally:
            self.connection.end_turn_unless_writing()

    def executemany(self, statement: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.take_turn_for(statement)
        try:
            return super().executemany(statement, seq_of_parameters)
        finally:
            self.connection.end_turn_unless_writing()
