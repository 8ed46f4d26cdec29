"""The teacher's view of a class: per student how far they got and where they are stuck.

Everything comes from a fixed number of grouped queries, however many students the class has, so the roster can
be read often during a lesson. `change_fingerprint` condenses what the roster depends on into one cheap row: the
live roster recomputes only when it changes.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, case, func
from sqlalchemy import select as wide_select  # any number of columns (SQLModel's select types up to four)
from sqlmodel import Session, col, select

from digitlab.auth.tables import User
from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
from digitlab.core.db import stored_id
from digitlab.datasets.tables import Cell, DatasetImport
from digitlab.extraction import service as extraction_service
from digitlab.jobs.tables import Job, JobStatus
from digitlab.projects.tables import Project
from digitlab.roster.schemas import RosterProject, RosterPublic, RosterStudent, Stuck, StuckCode
from digitlab.scans.tables import Scan, ScanStatus
from digitlab.training import service as training_service
from digitlab.training.tables import Training

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


def _students(class_id: int):  # the ids of the class's students, as a subquery
    return select(ClassMember.user_id).where(ClassMember.class_id == class_id, ClassMember.role == ClassRole.STUDENT)


def _their_projects(class_id: int):  # the ids of the projects of the class's students, as a subquery
    return select(Project.id).where(col(Project.owner_id).in_(_students(class_id)))


def teacher_ids(session: Session, class_id: int) -> frozenset[int]:
    query = select(ClassMember.user_id).where(ClassMember.class_id == class_id, ClassMember.role == ClassRole.TEACHER)
    return frozenset(session.exec(query).all())


def change_fingerprint(session: Session, class_id: int) -> tuple[Any, ...]:
    """One row that changes whenever the roster (or who may see it) can have changed: members, projects, pages,
    extractions, imports, jobs and trainings of the class's students, and sample edits (which touch their
    project's `updated_at`). One statement of indexed aggregates, cheap enough to ask every second: it never
    counts samples (the largest table)."""
    students, projects = _students(class_id), _their_projects(class_id)
    members = col(ClassMember.class_id) == class_id
    by_student = col(Job.owner_id).in_(students)
    parts: list[Select] = [
        select(SchoolClass.name).where(SchoolClass.id == class_id),
        select(func.count(col(ClassMember.id))).where(members),
        select(func.max(ClassMember.id)).where(members),
        select(func.count(col(Project.id))).where(col(Project.owner_id).in_(students)),
        select(func.max(Project.id)).where(col(Project.owner_id).in_(students)),
        select(func.max(Project.updated_at)).where(col(Project.owner_id).in_(students)),
        select(func.count(col(Scan.id))).where(col(Scan.project_id).in_(projects)),
        select(func.max(Scan.id)).where(col(Scan.project_id).in_(projects)),
        select(func.max(Scan.extracted_at)).where(col(Scan.project_id).in_(projects)),
        select(func.max(DatasetImport.id)).where(col(DatasetImport.project_id).in_(projects)),
        select(func.count(col(Job.id))).where(by_student),
        select(func.max(Job.id)).where(by_student),
        select(func.max(Job.started_at)).where(by_student),
        select(func.max(Job.finished_at)).where(by_student),
        select(func.max(Training.finished_at)).where(col(Training.owner_id).in_(students)),
    ]
    [row] = _rows(session, wide_select(*[part.scalar_subquery() for part in parts]))
    return tuple(row)


def _rows(session: Session, query: Select) -> Sequence[Row]:
    """The rows of a select of any width, in the session's transaction."""
    return session.connection().execute(query).all()


@dataclass
class _Progress:
    """One student's figures, gathered from the grouped queries."""

    pages: int = 0
    failed_pages: int = 0
    unextracted_pages: int = 0
    last_page_failure: datetime | None = None
    samples: int = 0
    trainings: int = 0
    best_accuracy: float | None = None
    last_training_success: datetime | None = None
    working: bool = False
    latest_extraction: tuple[str, datetime | None] | None = None  # (status, finished_at)
    # (status, finished_at, error, error_code, error_params)
    latest_training: tuple[str, datetime | None, str | None, str | None, dict | None] | None = None
    moments: list[datetime] = field(default_factory=list)  # everything that counts as activity

    def seen(self, *moments: datetime | None) -> None:
        self.moments += [moment for moment in moments if moment is not None]

    @property
    def last_activity(self) -> datetime | None:
        return max(self.moments, default=None)


@dataclass
class SampleCounts:
    """Samples kept per project, remembered between readings of a roster together with what they depend on, so
    that the live roster counts again only the samples of projects that changed (cells are by far the largest
    table; a lesson changes a few projects a second)."""

    known: dict[int, tuple[tuple[Any, ...], int]] = field(default_factory=dict)  # project id -> (its key, count)

    def count(self, session: Session, keys: dict[int, tuple[Any, ...]]) -> dict[int, int]:
        """Samples kept in each project of `keys` (project id -> what its samples depend on): one query for
        those whose key changed, none when nothing did."""
        changed = [project_id for project_id, key in keys.items() if self.known.get(project_id, ((),))[0] != key]
        counted: dict[int, int] = {}
        if changed:
            counted = dict(
                session.exec(
                    select(Cell.project_id, func.count(col(Cell.id)))
                    .where(col(Cell.project_id).in_(changed), col(Cell.included))
                    .group_by(col(Cell.project_id))
                ).all()
            )
        self.known = {
            project_id: (key, counted.get(project_id, 0) if project_id in changed else self.known[project_id][1])
            for project_id, key in keys.items()
        }
        return {project_id: count for project_id, (_, count) in self.known.items()}


def _of_project(aggregate: Any, table: type[Scan] | type[DatasetImport]) -> Any:
    """An aggregate over `table`'s rows of the project in the outer query."""
    return select(aggregate).where(col(table.project_id) == col(Project.id)).correlate(Project).scalar_subquery()


def roster(session: Session, school_class: SchoolClass, samples: SampleCounts | None = None) -> RosterPublic:
    """The class's students in writer order, with their figures; a fixed number of queries. `samples`: the
    counts of an earlier reading of this class's roster (the live roster), else everything is counted."""
    class_id = stored_id(school_class)
    students = _students(class_id)
    samples = samples if samples is not None else SampleCounts()
    members = session.exec(
        select(ClassMember.user_id, ClassMember.writer_number, User.username)
        .join(User, col(User.id) == ClassMember.user_id)
        .where(ClassMember.class_id == class_id, ClassMember.role == ClassRole.STUDENT)
        .order_by(col(ClassMember.writer_number), col(ClassMember.id))
    ).all()
    progress: dict[int, _Progress] = defaultdict(_Progress)
    projects: dict[int, list[RosterProject]] = defaultdict(list)
    owners: dict[int, int] = {}  # project id -> student
    keys: dict[int, tuple[Any, ...]] = {}  # project id -> what its kept samples depend on (see SampleCounts)
    for project_id, owner_id, name, created_at, updated_at, *key, last_import_at in _rows(
        session,
        wide_select(
            col(Project.id),
            col(Project.owner_id),
            col(Project.name),
            col(Project.created_at),
            col(Project.updated_at),  # also touched by every sample edit
            _of_project(func.count(col(Scan.id)), Scan),
            _of_project(func.max(Scan.id), Scan),
            _of_project(func.max(Scan.extracted_at), Scan),
            _of_project(func.max(DatasetImport.id), DatasetImport),
            _of_project(func.max(DatasetImport.created_at), DatasetImport),
        )
        .where(col(Project.owner_id).in_(students))
        .order_by(col(Project.id)),
    ):
        projects[owner_id].append(RosterProject(id=project_id, name=name))
        progress[owner_id].seen(created_at, updated_at, last_import_at)
        owners[project_id], keys[project_id] = owner_id, (updated_at, *key)
    for project_id, count in samples.count(session, keys).items():
        progress[owners[project_id]].samples += count

    _gather_pages(session, students, progress)
    _gather_jobs(session, students, progress)
    _gather_trainings(session, students, progress)

    return RosterPublic(
        class_id=class_id,
        class_name=school_class.name,
        students=[
            _student(user_id, writer_number, nickname, progress[user_id], projects[user_id])
            for user_id, writer_number, nickname in members
        ],
    )


def _gather_pages(session: Session, students, progress: dict[int, _Progress]) -> None:
    failed = col(Scan.status) == ScanStatus.FAILED
    rows = _rows(
        session,
        wide_select(
            col(Project.owner_id),
            func.count(col(Scan.id)),
            func.sum(case((failed, 1), else_=0)),
            func.sum(case((col(Scan.status) == ScanStatus.UPLOADED, 1), else_=0)),
            func.max(case((failed, col(Scan.extracted_at)), else_=None)),
            func.max(col(Scan.created_at)),
            func.max(col(Scan.extracted_at)),
        )
        .join(Project, col(Project.id) == Scan.project_id)
        .where(col(Project.owner_id).in_(students))
        .group_by(col(Project.owner_id)),
    )
    for owner_id, pages, failed_pages, unextracted, last_failure, last_upload, last_extraction in rows:
        student = progress[owner_id]
        student.pages, student.failed_pages, student.unextracted_pages = pages, failed_pages, unextracted
        student.last_page_failure = last_failure
        student.seen(last_upload, last_extraction)


def _gather_jobs(session: Session, students, progress: dict[int, _Progress]) -> None:
    """When each student's jobs last started or ended, whether one is waiting or running, and how their latest
    extraction and latest training went."""
    by_student = col(Job.owner_id).in_(students)
    rows = session.exec(
        select(
            Job.owner_id,
            func.max(Job.created_at),
            func.max(Job.finished_at),
            func.sum(case((col(Job.status).in_(ACTIVE), 1), else_=0)),
        )
        .where(by_student)
        .group_by(col(Job.owner_id))
    )
    for owner_id, last_created, last_finished, active in rows:
        progress[owner_id].seen(last_created, last_finished)
        progress[owner_id].working = active > 0
    kinds = (extraction_service.KIND, training_service.KIND)
    newest = (
        select(func.max(Job.id)).where(by_student, col(Job.kind).in_(kinds)).group_by(col(Job.owner_id), col(Job.kind))
    )
    latest = wide_select(
        col(Job.owner_id),
        col(Job.kind),
        col(Job.status),
        col(Job.finished_at),
        col(Job.error),
        col(Job.error_code),
        col(Job.error_params),
    )
    newest_jobs = _rows(session, latest.where(col(Job.id).in_(newest)))
    for owner_id, kind, status, finished_at, error, error_code, error_params in newest_jobs:
        if kind == extraction_service.KIND:
            progress[owner_id].latest_extraction = (status, finished_at)
        else:  # a training's job is made with it, so the newest training job is the newest training's
            progress[owner_id].latest_training = (status, finished_at, error, error_code, error_params)


def _gather_trainings(session: Session, students, progress: dict[int, _Progress]) -> None:
    succeeded = col(Job.status) == JobStatus.SUCCEEDED
    rows = _rows(
        session,
        wide_select(
            col(Training.owner_id),
            func.count(col(Training.id)),
            func.max(col(Training.test_accuracy)),
            func.max(case((succeeded, col(Job.finished_at)), else_=None)),
            func.max(col(Training.created_at)),
            func.max(col(Training.finished_at)),
        )
        .join(Job, col(Job.id) == Training.job_id)
        .where(col(Training.owner_id).in_(students))
        .group_by(col(Training.owner_id)),
    )
    for owner_id, count, best, last_success, last_created, last_finished in rows:
        student = progress[owner_id]
        student.trainings, student.best_accuracy, student.last_training_success = count, best, last_success
        student.seen(last_created, last_finished)


def _student(
    user_id: int, writer_number: int | None, nickname: str, progress: _Progress, projects: list[RosterProject]
) -> RosterStudent:
    return RosterStudent(
        user_id=user_id,
        nickname=nickname,
        writer_number=writer_number,
        pages_uploaded=progress.pages,
        samples_kept=progress.samples,
        trainings=progress.trainings,
        best_test_accuracy=progress.best_accuracy,
        last_activity=progress.last_activity,
        working=progress.working,
        stuck=stuck(progress, has_projects=bool(projects)),
        projects=projects,
    )


def _after(moment: datetime | None, other: datetime | None) -> bool:
    return moment is not None and (other is None or moment > other)


def stuck(progress: _Progress, *, has_projects: bool) -> Stuck | None:
    """Where the student is stuck, or None while they get on. A failure counts until a training succeeds after
    it; of several, the most recent. The steps not taken yet count only while nothing of theirs is running."""
    if not has_projects:
        return Stuck(code=StuckCode.NO_PROJECT, sentence="Has no project yet.")
    failures: list[tuple[datetime | None, Stuck]] = []
    if progress.latest_training is not None and progress.latest_training[0] == JobStatus.FAILED:
        _, finished_at, error, error_code, error_params = progress.latest_training
        sentence = "The latest training failed" + (f": {error}" if error else ".")
        failed = Stuck(
            code=StuckCode.FAILED_TRAINING, sentence=sentence, error_code=error_code, error_params=error_params
        )
        failures.append((finished_at, failed))
    if progress.failed_pages and _after(progress.last_page_failure, progress.last_training_success):
        pages = f"{progress.failed_pages} page{'s' if progress.failed_pages != 1 else ''}"
        sentence = f"{pages} could not be read; scan again or delete them."
        failures.append((progress.last_page_failure, Stuck(code=StuckCode.FAILED_PAGE, sentence=sentence)))
    elif progress.latest_extraction is not None and progress.latest_extraction[0] == JobStatus.FAILED:
        finished_at = progress.latest_extraction[1]
        if _after(finished_at, progress.last_training_success):
            sentence = "The latest extraction failed; start it again."
            failures.append((finished_at, Stuck(code=StuckCode.FAILED_EXTRACTION, sentence=sentence)))
    if failures:
        return max(failures, key=lambda failure: (failure[0] is not None, failure[0]))[1]
    if progress.working:
        return None
    if progress.pages == 0 and progress.samples == 0:
        return Stuck(code=StuckCode.NO_SCANS, sentence="Has not uploaded any pages yet.")
    if progress.samples == 0 and progress.unextracted_pages:
        return Stuck(code=StuckCode.NOT_EXTRACTED, sentence="Has uploaded pages but not extracted them yet.")
    if progress.samples == 0:
        return Stuck(code=StuckCode.NO_SAMPLES, sentence="Has no samples to train on.")
    if progress.trainings == 0:
        return Stuck(code=StuckCode.NO_TRAINING, sentence="Has samples but has not trained a network yet.")
    return None
