"""How long a job will take: from how long the recent jobs of its kind took on this instance.

Each job kind says how big a job is (`JobSize`: a key for jobs whose durations compare, e.g. "training:cnn",
and its work, e.g. thousands of sample-epochs), through the sizer named in registry.JOB_SIZES. A job's duration
is modelled as fixed + per_work * work: the fixed part is the process start, loading and saving, the rest
grows with the work. The priors below were measured on a 2-core machine; the recent successful jobs of the
same key scale them to this instance as it is now (a busy school server is slower than an idle one), and jobs
of other keys in the lane do when a key has no history yet. With enough varied history of one key, a straight
line fitted through it replaces the scaled prior.
"""

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from digitlab.core.clock import utcnow
from digitlab.jobs.tables import Job, JobStatus

if TYPE_CHECKING:
    from digitlab.jobs.queue import Lane


@dataclass(frozen=True)
class JobSize:
    key: str  # jobs whose durations compare
    work: float  # in the key's unit (pages; thousands of sample-epochs)


@dataclass(frozen=True)
class Model:
    fixed: float  # seconds
    per_work: float  # seconds per unit of work

    def seconds(self, work: float) -> float:
        return self.fixed + self.per_work * work

    def scaled(self, factor: float) -> "Model":
        return Model(self.fixed * factor, self.per_work * factor)


# Idle 2-core machine: a page ~0.1-0.3 s; MLP 30 epochs on 4,000 samples ~8 s, CNN ~37 s, plus ~6 s to start
# a fresh process with TensorFlow, load the data and export the model.
PRIORS = {
    "extraction": Model(0.5, 0.3),
    "training:mlp": Model(6.0, 0.07),
    "training:cnn": Model(6.0, 0.31),
    "training:custom": Model(6.0, 0.3),
}
DEFAULT_PRIOR = Model(5.0, 0.3)
HISTORY = 40  # the most recent successful jobs of a lane that the estimates learn from
PACE_FROM_PROGRESS = 0.2  # a running job this far in (progress 0..1) counts as history: elapsed / progress
FIT_MIN_POINTS = 5  # a line is fitted through one key's history from this many jobs ...
FIT_MIN_SPREAD = 2.0  # ... whose largest work is at least this many times their smallest


def sizes(session: Session, jobs: Sequence[Job]) -> dict[int, JobSize]:
    """Each job's size, by its kind's sizer (a kind without one: every job is one unit)."""
    from digitlab.jobs import registry

    by_kind: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        by_kind[job.kind].append(job)
    found: dict[int, JobSize] = {}
    for kind, of_kind in by_kind.items():
        sizer: Callable[[Session, list[Job]], dict[int, JobSize]] | None = registry.sizer(kind)
        measured = sizer(session, of_kind) if sizer is not None else {}
        for job in of_kind:
            assert job.id is not None
            found[job.id] = measured.get(job.id, JobSize(kind, 1.0))
    return found


def _fit_line(points: list[tuple[float, float]]) -> Model | None:
    """Least squares through (work, seconds); None unless both parts come out positive."""
    works = [w for w, _ in points]
    mean_w, mean_s = statistics.fmean(works), statistics.fmean(s for _, s in points)
    spread = sum((w - mean_w) ** 2 for w in works)
    if spread <= 0:
        return None
    per_work = sum((w - mean_w) * (s - mean_s) for w, s in points) / spread
    fixed = mean_s - per_work * mean_w
    return Model(fixed, per_work) if fixed >= 0 and per_work > 0 else None


def prior(key: str) -> Model:
    return PRIORS.get(key, DEFAULT_PRIOR)


class Durations:
    """Expected durations of jobs, learnt from a lane's recent history."""

    def __init__(self, models: dict[str, Model], job_sizes: dict[int, JobSize], lane_factor: float):
        self.models = models
        self.job_sizes = job_sizes
        self.lane_factor = lane_factor

    @classmethod
    def from_history(cls, session: Session, lane: "Lane", jobs: Sequence[Job]) -> "Durations":
        from digitlab.jobs.queue import aware, in_lane

        recent = list(
            session.exec(
                select(Job)
                .where(
                    Job.status == JobStatus.SUCCEEDED,
                    col(Job.started_at).is_not(None),
                    col(Job.finished_at).is_not(None),
                    *in_lane(lane),
                )
                .order_by(col(Job.finished_at).desc())
                .limit(HISTORY)
                .execution_options(populate_existing=True)  # fresh, even where the caller holds one already
            )
        )
        job_sizes = sizes(session, [*recent, *jobs])
        points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for job in recent:
            assert job.id is not None and job.started_at is not None and job.finished_at is not None
            size = job_sizes[job.id]
            took = (aware(job.finished_at) - aware(job.started_at)).total_seconds()
            points[size.key].append((size.work, max(took, 0.0)))
        # Jobs running now, far enough in to tell their pace, say how long a job takes today before any ends
        # (the first trainings of a lesson on a busy server).
        now = utcnow()
        for job in jobs:
            if job.status == JobStatus.RUNNING and job.started_at and job.progress >= PACE_FROM_PROGRESS:
                assert job.id is not None
                size = job_sizes[job.id]
                points[size.key].append((size.work, (now - aware(job.started_at)).total_seconds() / job.progress))
        ratios = {key: [took / prior(key).seconds(work) for work, took in found] for key, found in points.items()}
        every_ratio = [ratio for found in ratios.values() for ratio in found]
        lane_factor = statistics.median(every_ratio) if every_ratio else 1.0
        models = {}
        for key, found in points.items():
            works = [work for work, _ in found]
            line = None
            if len(found) >= FIT_MIN_POINTS and max(works) >= FIT_MIN_SPREAD * max(min(works), 1e-9):
                line = _fit_line(found)
            models[key] = line or prior(key).scaled(statistics.median(ratios[key]))
        return cls(models, job_sizes, lane_factor)

    def model(self, key: str) -> Model:
        return self.models.get(key) or prior(key).scaled(self.lane_factor)

    def expected(self, job: Job) -> timedelta:
        """How long the job takes from its start to its end."""
        assert job.id is not None
        size = self.job_sizes.get(job.id, JobSize(job.kind, 1.0))
        return timedelta(seconds=max(self.model(size.key).seconds(size.work), 0.1))

    def remaining(self, job: Job, now: datetime) -> timedelta:
        """How long a running job still needs: from its pace once it is far enough in, else from expected()."""
        from digitlab.jobs.queue import aware

        elapsed = now - aware(job.started_at) if job.started_at else timedelta(0)
        if job.progress >= PACE_FROM_PROGRESS:
            return elapsed * ((1 - job.progress) / job.progress)
        return self.expected(job) - elapsed
