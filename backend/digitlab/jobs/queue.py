"""Which queued job runs next, and where every waiting job stands: the one order both job backends obey.

Jobs run in two lanes with their own worker slots: extractions in warm processes that take job after job
(seconds matter: a student waits for their samples), trainings in a fresh process each (TensorFlow). Within a
lane, the free slot goes to the next job of `fair_order`:

1. the group (a class: the class of the job's owner as a student; a user in no class is a group of their own)
   with the fewest jobs running in this lane, then the one served longest ago (its last start), then the one
   whose oldest waiting job is oldest;
2. within that group, the user chosen by the same rule among its users with waiting jobs;
3. that user's oldest waiting job (first in, first out).

So thirty students of one class who start trainings within a minute take turns with the three students of
another class, instead of making them wait for all thirty; and within a class, a student who queued five jobs
does not push the others back. The order is computed from the jobs table alone (waiting jobs, what runs, when
each group last got a slot), so the embedded runner and every Celery worker, whichever process asks, agree;
claiming stays one conditional UPDATE (states.claim_job), so two claimers never get the same job.

`place` then says where a waiting job stands: its position, and when it should start and end, by playing the
order forward over the lane's slots with the durations estimated from recent history (estimates.py).
"""

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from heapq import heapify, heappop, heappush

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from digitlab.classes.tables import ClassMember, ClassRole
from digitlab.core.clock import utcnow
from digitlab.jobs import estimates
from digitlab.jobs.tables import Job, JobStatus


class Lane(StrEnum):
    EXTRACTION = "extraction"  # warm worker processes, job after job; never TensorFlow
    TRAINING = "training"  # a fresh process per job


WARM_KINDS = frozenset({"extraction"})
# How far back a group's last start counts for taking turns (older starts are all "long ago").
TURN_MEMORY = timedelta(hours=1)


def lane_of(kind: str) -> Lane:
    return Lane.EXTRACTION if kind in WARM_KINDS else Lane.TRAINING


def in_lane(lane: Lane | None) -> list[ColumnElement[bool]]:
    """The condition on jobs of `lane` (None: every lane)."""
    if lane is None:
        return []
    if lane == Lane.EXTRACTION:
        return [col(Job.kind).in_(WARM_KINDS)]
    return [col(Job.kind).not_in(WARM_KINDS)]


def aware(moment: datetime) -> datetime:
    """Stored datetimes come back without a zone (SQLite, PostgreSQL's timestamp): they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


Group = tuple[str, int]  # ("class", class id) or ("user", user id)


@dataclass(frozen=True)
class Waiting:
    job_id: int
    owner_id: int
    group: Group
    created_at: datetime


@dataclass
class _Turns:
    """Per group or user: jobs running in the lane and the last start (None: not within TURN_MEMORY)."""

    running: int = 0
    last_start: datetime | None = None

    def key(self) -> tuple[int, datetime]:
        return self.running, self.last_start or datetime.min.replace(tzinfo=UTC)

    def took(self, moment: datetime) -> None:
        self.running += 1
        self.last_start = moment


def class_groups(session: Session, user_ids: Iterable[int]) -> dict[int, Group]:
    """Each user's group: the class of their latest student membership, else the user alone."""
    users = sorted(set(user_ids))
    groups: dict[int, Group] = {user_id: ("user", user_id) for user_id in users}
    if users:
        memberships = session.exec(
            select(ClassMember.user_id, ClassMember.class_id)
            .where(col(ClassMember.user_id).in_(users), ClassMember.role == ClassRole.STUDENT)
            .order_by(col(ClassMember.id))
        ).all()
        for user_id, class_id in memberships:
            groups[user_id] = ("class", class_id)  # the latest membership wins
    return groups


def fair_order(session: Session, lane: Lane | None = None, now: datetime | None = None) -> list[Waiting]:
    """Every queued job of the lane, in the order the lane's free slots will take them."""
    now = now or utcnow()
    queued = session.exec(
        select(Job.id, Job.owner_id, Job.created_at)
        .where(Job.status == JobStatus.QUEUED, *in_lane(lane))
        .order_by(col(Job.created_at), col(Job.id))
    ).all()
    if not queued:
        return []
    # Per owner: jobs running now (however long ago they started) and the last start within TURN_MEMORY; two
    # queries that each use an index (status; started_at).
    running = session.exec(
        select(Job.owner_id, func.count(), func.max(Job.started_at))
        .where(Job.status == JobStatus.RUNNING, *in_lane(lane))
        .group_by(col(Job.owner_id))
    ).all()
    started = session.exec(
        select(Job.owner_id, func.max(Job.started_at))
        .where(col(Job.started_at) >= now - TURN_MEMORY, *in_lane(lane))
        .group_by(col(Job.owner_id))
    ).all()
    recent = [*running, *[(owner, 0, last_start) for owner, last_start in started]]
    groups = class_groups(session, [owner for _, owner, _ in queued] + [owner for owner, _, _ in recent])
    group_turns: dict[Group, _Turns] = {}
    user_turns: dict[int, _Turns] = {}
    for owner, running_now, last_start in recent:
        for turns in (group_turns.setdefault(groups[owner], _Turns()), user_turns.setdefault(owner, _Turns())):
            turns.running += int(running_now or 0)
            if last_start is not None and (turns.last_start is None or aware(last_start) > turns.last_start):
                turns.last_start = aware(last_start)

    waiting_by_user: dict[int, deque[Waiting]] = {}
    for job_id, owner, created_at in queued:  # oldest first, so each user's deque is FIFO
        assert job_id is not None  # stored rows
        waiting = Waiting(job_id, owner, groups[owner], aware(created_at))
        waiting_by_user.setdefault(owner, deque()).append(waiting)
    users_by_group: dict[Group, set[int]] = {}
    for owner in waiting_by_user:
        users_by_group.setdefault(groups[owner], set()).add(owner)

    def head(owner: int) -> tuple[datetime, int]:
        first = waiting_by_user[owner][0]
        return first.created_at, first.job_id

    order: list[Waiting] = []
    while users_by_group:
        group = min(
            users_by_group,
            key=lambda g: (group_turns.setdefault(g, _Turns()).key(), min(head(u) for u in users_by_group[g])),
        )
        owner = min(users_by_group[group], key=lambda u: (user_turns.setdefault(u, _Turns()).key(), head(u)))
        job = waiting_by_user[owner].popleft()
        order.append(job)
        # As if it started now: the next turn goes to whoever has been waiting for one longer.
        moment = now + timedelta(microseconds=len(order))
        group_turns[group].took(moment)
        user_turns[owner].took(moment)
        if not waiting_by_user[owner]:
            del waiting_by_user[owner]
            users_by_group[group].discard(owner)
            if not users_by_group[group]:
                del users_by_group[group]
    return order


# --- where a waiting job stands -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Place:
    position: int  # 1: the next job to start in its lane
    jobs_ahead: int
    estimated_start: datetime
    estimated_end: datetime


@dataclass
class Snapshot:
    """The places of a lane's waiting jobs, and the expected ends of its running ones, at `taken_at`."""

    taken_at: datetime
    places: dict[int, Place] = field(default_factory=dict)
    running_ends: dict[int, datetime] = field(default_factory=dict)


MIN_REMAINING = timedelta(seconds=0.5)


def snapshot(session: Session, lane: Lane, now: datetime | None = None) -> Snapshot:
    """Play the fair order forward: each free slot takes the next waiting job, which then runs for its expected
    duration. The lane has as many slots as it runs jobs now (with jobs waiting, every slot is busy: a slot
    that just freed is taken within a moment), and at least one."""
    now = now or utcnow()
    order = fair_order(session, lane, now)
    # populate_existing: the caller may hold some of these jobs already, as they were when it read them.
    running = list(
        session.exec(
            select(Job).where(Job.status == JobStatus.RUNNING, *in_lane(lane)).execution_options(populate_existing=True)
        )
    )
    taken = Snapshot(taken_at=now)
    if not order and not running:
        return taken
    waiting_jobs = list(
        session.exec(
            select(Job).where(col(Job.id).in_([w.job_id for w in order])).execution_options(populate_existing=True)
        )
    )
    durations = estimates.Durations.from_history(session, lane, waiting_jobs + running)
    slots: list[datetime] = []
    for job in running:
        assert job.id is not None
        end = now + max(durations.remaining(job, now), MIN_REMAINING)
        taken.running_ends[job.id] = end
        slots.append(end)
    slots.extend([now] * max(0, 1 - len(slots)))
    heapify(slots)
    by_id = {job.id: job for job in waiting_jobs}
    for position, waiting in enumerate(order, start=1):
        start = max(heappop(slots), now)
        end = start + durations.expected(by_id[waiting.job_id])
        taken.places[waiting.job_id] = Place(position, position - 1, start, end)
        heappush(slots, end)
    return taken


class _SnapshotCache:
    """Snapshots shared by every request and stream of this process for `SNAPSHOT_SECONDS`, so thirty students
    watching their queue place cost one computation a second, not thirty."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken: dict[tuple[str, Lane], tuple[float, Snapshot]] = {}

    def get(self, session: Session, lane: Lane, job_id: int | None = None) -> Snapshot:
        """The lane's snapshot, taken anew if it is older than SNAPSHOT_SECONDS or misses the waiting job
        `job_id` (queued after it was taken)."""
        key = (str(session.get_bind().engine.url), lane)
        with self._lock:  # one computation at a time; the others then find it fresh
            cached = self._taken.get(key)
            fresh = cached is not None and time.monotonic() - cached[0] < SNAPSHOT_SECONDS
            if cached is not None and fresh and (job_id is None or job_id in cached[1].places):
                return cached[1]
            taken = snapshot(session, lane)  # on the caller's connection: a second one could wait for a free one
            self._taken[key] = (time.monotonic(), taken)
            return taken

    def clear(self) -> None:
        with self._lock:
            self._taken.clear()


SNAPSHOT_SECONDS = 1.0
_snapshots = _SnapshotCache()


def place(session: Session, job: Job) -> Place | None:
    """Where a queued job stands (None once it runs or has ended)."""
    if job.status != JobStatus.QUEUED or job.id is None:
        return None
    return _snapshots.get(session, lane_of(job.kind), job.id).places.get(job.id)


def places(session: Session, jobs: Iterable[Job]) -> dict[int, Place]:
    """place() of several jobs (a list of trainings)."""
    found = {}
    for job in jobs:
        where = place(session, job)
        if where is not None and job.id is not None:
            found[job.id] = where
    return found


def forget_snapshots() -> None:
    """Drop the cached snapshots (tests that change the queue under a running service)."""
    _snapshots.clear()
