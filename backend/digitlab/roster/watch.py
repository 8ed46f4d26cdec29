"""The live roster: one watcher per class with open roster sockets in this process, however many teachers
(or tabs) have it open.

Each watcher asks the database for the class's change fingerprint (roster_service.change_fingerprint: one cheap
statement) every POLL_SECONDS and recomputes the roster only when that changed. Because it asks the database,
a change made through any API process or worker reaches every process's sockets (the scaled-out mode needs no
other channel). The watcher stops when its last socket goes.
"""

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine

from digitlab.classes.tables import SchoolClass
from digitlab.core.db import unit_of_work
from digitlab.roster import service

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # a change reaches the teacher within about this long (plus the roster's own queries)


@dataclass(frozen=True)
class RosterUpdate:
    roster: dict[str, Any] | None  # the roster as JSON; None once the class is gone
    teacher_ids: frozenset[int]  # who may see it now (a socket of anyone else ends)


class Latest:
    """A subscriber's mailbox that holds only the newest update: a slow socket skips to the present instead of
    working through a backlog."""

    def __init__(self) -> None:
        self._update: RosterUpdate | None = None
        self._arrived = asyncio.Event()

    def put(self, update: RosterUpdate) -> None:
        self._update = update
        self._arrived.set()

    async def get(self) -> RosterUpdate:
        await self._arrived.wait()
        self._arrived.clear()
        assert self._update is not None
        return self._update


class _ClassWatcher:
    def __init__(self, engine: Engine, class_id: int, poll_seconds: float) -> None:
        self.engine, self.class_id, self.poll_seconds = engine, class_id, poll_seconds
        self.subscribers: set[Latest] = set()
        self.latest: RosterUpdate | None = None
        self.samples = service.SampleCounts()  # only the samples of projects that changed are counted again
        # In a context of its own: it outlives the socket that happened to start it, and must not share (nor
        # be cancelled with) that request's context.
        self.task = asyncio.create_task(
            self._run(), name=f"roster watcher of class {class_id}", context=contextvars.Context()
        )

    def add(self) -> Latest:
        mailbox = Latest()
        if self.latest is not None:  # a new socket gets the roster at once
            mailbox.put(self.latest)
        self.subscribers.add(mailbox)
        return mailbox

    async def _run(self) -> None:
        fingerprint: tuple[Any, ...] | None = None
        while True:
            try:
                current = await to_thread.run_sync(self._fingerprint)
                if current != fingerprint:
                    # Read after the fingerprint: a change in between shows now and again at the next look.
                    self.latest = await to_thread.run_sync(self._load)
                    fingerprint = current
                    for mailbox in self.subscribers:
                        mailbox.put(self.latest)
            except Exception:  # a database hiccup: the sockets keep their roster and we look again
                log.exception("The roster of class %s could not be read; trying again", self.class_id)
            await asyncio.sleep(self.poll_seconds)

    def _fingerprint(self) -> tuple[Any, ...]:
        with unit_of_work(self.engine) as session:
            return service.change_fingerprint(session, self.class_id)

    def _load(self) -> RosterUpdate:
        with unit_of_work(self.engine) as session:
            school_class = session.get(SchoolClass, self.class_id)
            if school_class is None:
                return RosterUpdate(None, frozenset())
            roster = service.roster(session, school_class, self.samples).model_dump(mode="json")
            return RosterUpdate(roster, service.teacher_ids(session, self.class_id))


class RosterWatchers:
    """The watchers of one process (one event loop), by class."""

    def __init__(self, engine: Engine, poll_seconds: float = POLL_SECONDS) -> None:
        self.engine, self.poll_seconds = engine, poll_seconds
        self._watchers: dict[int, _ClassWatcher] = {}

    @asynccontextmanager
    async def subscribe(self, class_id: int) -> AsyncIterator[Latest]:
        """A mailbox with the class's roster, now (or as soon as it is read) and after every change."""
        watcher = self._watchers.get(class_id)
        if watcher is None:
            watcher = self._watchers[class_id] = _ClassWatcher(self.engine, class_id, self.poll_seconds)
        mailbox = watcher.add()
        try:
            yield mailbox
        finally:
            watcher.subscribers.discard(mailbox)
            if not watcher.subscribers:  # it stops at its next await (never awaited here: the socket may be
                del self._watchers[class_id]  # being cancelled itself)
                watcher.task.cancel()

    @property
    def watching(self) -> set[int]:
        """The classes watched right now (for tests and logs)."""
        return set(self._watchers)
