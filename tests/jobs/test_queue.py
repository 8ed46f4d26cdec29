"""The queue's order (digitlab.jobs.queue.fair_order, the one choice both backends obey) and its estimates, on
SQLite without a runner: jobs rows as the API and the workers leave them."""

from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from sqlmodel import Session

from digitlab.auth.tables import User
from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
from digitlab.core.clock import utcnow
from digitlab.jobs import estimates, queue, states
from digitlab.jobs.queue import Lane
from digitlab.jobs.tables import Job, JobStatus
from digitlab.projects.tables import Project

NOW = utcnow()


class School:
    """Users with one project each, in classes as students (or in none)."""

    def __init__(self, engine):
        self.engine = engine
        self.projects: dict[str, int] = {}
        self.users: dict[str, int] = {}
        self.classes: dict[str, int] = {}

    def student(self, name: str, class_name: str | None = None) -> None:
        with Session(self.engine) as session:
            user = User(username=name, password_hash="x")
            session.add(user)
            session.flush()
            project = Project(name=name, owner_id=user.id, labels=list("0123456789"))
            session.add(project)
            if class_name is not None:
                if class_name not in self.classes:
                    school_class = SchoolClass(name=class_name, delete_after=NOW + timedelta(days=300))
                    session.add(school_class)
                    session.flush()
                    self.classes[class_name] = school_class.id
                session.add(ClassMember(class_id=self.classes[class_name], user_id=user.id, role=ClassRole.STUDENT))
            session.commit()
            self.users[name], self.projects[name] = user.id, project.id

    def job(self, name: str, kind: str = "extraction", seconds_ago: float = 0, **values) -> int:
        """A job of `name`'s project, created `seconds_ago` before NOW."""
        with Session(self.engine) as session:
            job = Job(
                project_id=self.projects[name],
                owner_id=self.users[name],
                kind=kind,
                params=values.pop("params", {"scan_ids": [1, 2]}),
                created_at=NOW - timedelta(seconds=seconds_ago),
                **values,
            )
            session.add(job)
            session.commit()
            return job.id

    def order(self, lane: Lane | None = Lane.EXTRACTION) -> list[int]:
        with Session(self.engine) as session:
            return [waiting.job_id for waiting in queue.fair_order(session, lane, NOW)]


@pytest.fixture
def school(engine) -> School:
    school = School(engine)
    for name, class_name in [("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B"), ("b2", "B"), ("solo", None)]:
        school.student(name, class_name)
    return school


def test_classes_take_turns_whoever_queued_first(school):
    """Class A queued six jobs before class B's two and a student in no class queued one: B and the lone student
    do not wait for all of A's."""
    a = [school.job(name, seconds_ago=100 - i) for i, name in enumerate(["a1", "a1", "a2", "a2", "a3", "a3"])]
    b = [school.job("b1", seconds_ago=50), school.job("b2", seconds_ago=49)]
    solo = school.job("solo", seconds_ago=10)
    # A's first (oldest), B's first, the lone student, then A and B alternate while both wait; within A the
    # students take turns (a1, a2, a3), each student's own jobs first in, first out.
    assert school.order() == [a[0], b[0], solo, a[2], b[1], a[4], a[1], a[3], a[5]]


def test_a_class_with_jobs_running_waits_for_the_classes_without(school):
    for _ in range(2):
        school.job("a1", status=JobStatus.RUNNING, started_at=NOW - timedelta(seconds=5), worker="w:1")
    a_queued = school.job("a2", seconds_ago=30)
    b_queued = school.job("b1", seconds_ago=1)
    assert school.order() == [b_queued, a_queued]


def test_the_class_served_longest_ago_goes_first(school):
    school.job("a1", status=JobStatus.SUCCEEDED, started_at=NOW - timedelta(seconds=10), finished_at=NOW)
    school.job("b1", status=JobStatus.SUCCEEDED, started_at=NOW - timedelta(seconds=100), finished_at=NOW)
    a_queued = school.job("a2", seconds_ago=30)
    b_queued = school.job("b2", seconds_ago=1)
    assert school.order() == [b_queued, a_queued]


def test_lanes_queue_apart(school):
    training = school.job("a1", kind="training", seconds_ago=30, params={})
    extraction = school.job("b1", seconds_ago=1)
    assert school.order(Lane.EXTRACTION) == [extraction]
    assert school.order(Lane.TRAINING) == [training]
    assert school.order(None) == [training, extraction]  # without a lane: FIFO here, as nothing ran yet


def test_claiming_takes_the_fair_next_job_of_the_lane(engine, school):
    school.job("a1", seconds_ago=30)
    first_b = school.job("b1", seconds_ago=20)
    school.job("b1", kind="training", seconds_ago=40, params={})
    assert states.claim_next(engine, "w:1", Lane.EXTRACTION) is not None  # a1's (oldest)
    assert states.claim_next(engine, "w:2", Lane.EXTRACTION) == first_b
    assert states.claim_next(engine, "w:3", Lane.EXTRACTION) is None


def test_queue_places_follow_the_order_over_the_lanes_slots(school):
    """One extraction runs (started 1 s ago, expected to take ~1.1 s with the priors: 0.5 + 0.3 per page), three
    wait: with one slot, each starts when the one before it is expected to end."""
    school.job("a1", status=JobStatus.RUNNING, started_at=NOW - timedelta(seconds=1), worker="w:1")
    waiting = [school.job(name, seconds_ago=10 - i) for i, name in enumerate(["a2", "b1", "solo"])]
    with Session(school.engine) as session:
        taken = queue.snapshot(session, Lane.EXTRACTION, NOW)
    places = [taken.places[job_id] for job_id in waiting]
    # b1 and the lone student first: class A has a job running.
    assert [p.position for p in places] == [3, 1, 2]
    by_position = sorted(places, key=lambda p: p.position)
    expected = estimates.prior("extraction").seconds(2)
    assert by_position[0].estimated_start == NOW + queue.MIN_REMAINING  # the running one is about done
    for before, after in pairwise(by_position):
        assert after.estimated_start == before.estimated_end
    for place in places:
        assert (place.estimated_end - place.estimated_start).total_seconds() == pytest.approx(expected)


def _finished(school: School, name: str, seconds: float, pages: int, kind: str = "extraction") -> None:
    end = NOW - timedelta(minutes=1)
    school.job(
        name,
        kind=kind,
        status=JobStatus.SUCCEEDED,
        started_at=end - timedelta(seconds=seconds),
        finished_at=end,
        params={"scan_ids": list(range(pages))},
    )


def test_durations_learn_from_recent_jobs_of_this_instance(school):
    """This server is three times slower than the priors say: the estimates follow what happened."""
    prior = estimates.prior("extraction")
    for pages in (1, 2, 2, 3):
        _finished(school, "a1", 3 * prior.seconds(pages), pages)
    waiting = school.job("b1", params={"scan_ids": [1, 2, 3, 4]})
    with Session(school.engine) as session:
        job = session.get(Job, waiting)
        durations = estimates.Durations.from_history(session, Lane.EXTRACTION, [job])
        assert durations.expected(job).total_seconds() == pytest.approx(3 * prior.seconds(4), rel=0.01)


def test_with_varied_history_a_line_is_fitted(school):
    for pages in (1, 2, 4, 8, 10):
        _finished(school, "a1", 2.0 + 1.5 * pages, pages)
    with Session(school.engine) as session:
        model = estimates.Durations.from_history(session, Lane.EXTRACTION, []).model("extraction")
    assert (model.fixed, model.per_work) == (pytest.approx(2.0), pytest.approx(1.5))


def test_without_history_the_priors_hold(school):
    waiting = school.job("a1", params={"scan_ids": [1]})
    with Session(school.engine) as session:
        job = session.get(Job, waiting)
        durations = estimates.Durations.from_history(session, Lane.EXTRACTION, [job])
        assert durations.expected(job).total_seconds() == pytest.approx(estimates.prior("extraction").seconds(1))


def test_stored_times_are_read_as_utc():
    assert queue.aware(datetime(2024, 1, 1, 12)).utcoffset() == timedelta(0)


def test_a_running_job_far_enough_in_tells_the_pace_before_any_job_ended(school):
    """A busy server: the first extraction is half done after 30 s (the priors said about a second). Its end is
    expected in another 30 s, and the job waiting behind it is expected to take as long."""
    running = school.job(
        "a1", status=JobStatus.RUNNING, started_at=utcnow() - timedelta(seconds=30), worker="w:1", progress=0.5
    )
    waiting = school.job("b1")
    with Session(school.engine) as session:
        taken = queue.snapshot(session, Lane.EXTRACTION)
    end = taken.running_ends[running]
    assert (end - taken.taken_at).total_seconds() == pytest.approx(30, abs=1)
    place = taken.places[waiting]
    assert place.estimated_start == end
    assert (place.estimated_end - place.estimated_start).total_seconds() == pytest.approx(60, abs=2)
