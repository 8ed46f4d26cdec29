"""The class data set: a teacher builds it from the students' samples; the class sees it and trains on it.

Who sees what: the class's teachers see everything with nicknames; its students see counts per label and per
writer ("writer 3") and the samples as anonymous images. Everyone else gets 404, as for any class.
"""

import base64
from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import and_, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digitlab.auth.tables import User
from digitlab.challenges.tables import outside_challenges
from digitlab.class_datasets.schemas import (
    ClassDatasetBuild,
    ClassDatasetPublic,
    ClassSamplePage,
    ClassSamplePublic,
    DatasetSource,
    LabelTally,
    SkippedProject,
    WriterTally,
)
from digitlab.class_datasets.tables import ClassDataset, ClassSample
from digitlab.classes import service as classes_service
from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
from digitlab.core.clock import utcnow
from digitlab.core.db import stored_id
from digitlab.core.errors import conflict, invalid, not_found, too_large
from digitlab.core.paging import Page
from digitlab.datasets.service import image_array
from digitlab.datasets.tables import Cell
from digitlab.pipeline.imageio import encode_png
from digitlab.projects.tables import Project
from digitlab.training.tables import Training

# A class of 30 with a few full projects each stays far below; the data set is loaded whole by a training.
MAX_SAMPLES = 100_000


# --- who may do what in a class ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Membership:
    """The user asking, as a member of the class."""

    school_class: SchoolClass
    member: ClassMember

    @property
    def is_teacher(self) -> bool:
        return self.member.role == ClassRole.TEACHER

    @property
    def class_id(self) -> int:
        return stored_id(self.school_class)


def member_of(session: Session, user: User, class_id: int) -> Membership:
    """The user's membership of the class; 404 for everyone else (nobody learns which classes exist)."""
    school_class = classes_service.get_class(session, user, class_id)
    member = classes_service.membership(session, class_id, stored_id(user))
    assert member is not None  # get_class checked it
    return Membership(school_class, member)


def teacher_of(session: Session, user: User, class_id: int) -> Membership:
    """For the class's teachers only; 404 for its students as for everyone else (as classes.service.get_class)."""
    found = member_of(session, user, class_id)
    if not found.is_teacher:
        raise not_found("Class")
    return found


def flush_or_busy(session: Session, what: str) -> None:
    """Flush; a request racing with this one that just made the same (unique) thing is a 409, not a 500."""
    try:
        session.flush()
    except IntegrityError:
        raise conflict(f"{what} was changed by another request just now. Please try again.", "busy") from None


def require_open(school_class: SchoolClass) -> None:
    if school_class.closed_at is not None:
        raise conflict("This class is closed: it takes no new work.", "class_closed")


@dataclass(frozen=True)
class ClassTraining:
    viewer: Membership
    training: Training
    trainer: ClassMember  # who trained it, as a member of the class


def class_training(session: Session, user: User, class_id: int, training_id: int) -> ClassTraining:
    """A training of a member of the class: for whoever trained it, and for the class's teachers. (A teacher's
    own network can be compared with the class's handwriting too; the leaderboard lists students only.)"""
    viewer = member_of(session, user, class_id)
    training = session.get(Training, training_id)
    trainer = classes_service.membership(session, class_id, training.owner_id) if training is not None else None
    if training is None or trainer is None or (not viewer.is_teacher and training.owner_id != user.id):
        raise not_found("Training")
    return ClassTraining(viewer, training, trainer)


@dataclass(frozen=True)
class Student:
    user_id: int
    nickname: str
    writer_number: int


def students(session: Session, class_id: int) -> dict[int, Student]:
    """The class's students by user id (students get their writer number when they join)."""
    rows = session.exec(
        select(ClassMember, User.username)
        .join(User, col(User.id) == ClassMember.user_id)
        .where(
            ClassMember.class_id == class_id,
            ClassMember.role == ClassRole.STUDENT,
            col(ClassMember.writer_number).is_not(None),
        )
    ).all()
    return {member.user_id: Student(member.user_id, username, member.writer_number or 0) for member, username in rows}


def nicknames_by_writer(session: Session, class_id: int) -> dict[int, str]:
    return {student.writer_number: student.nickname for student in students(session, class_id).values()}


# --- building ------------------------------------------------------------------------------------------------
def dataset_of(session: Session, class_id: int) -> ClassDataset | None:
    return session.exec(select(ClassDataset).where(ClassDataset.class_id == class_id)).first()


def get_dataset(session: Session, class_id: int) -> ClassDataset:
    dataset = dataset_of(session, class_id)
    if dataset is None:
        raise not_found("Class data set")
    return dataset


def build(session: Session, user: User, class_id: int, body: ClassDatasetBuild) -> ClassDatasetPublic:
    """Build (or rebuild) the class data set: a copy of the included samples of the chosen students' projects
    whose labels are the data set's. Samples on challenge sheets never go in."""
    viewer = teacher_of(session, user, class_id)
    require_open(viewer.school_class)
    chosen = _chosen_students(students(session, class_id), body.student_ids)
    projects = _chosen_projects(session, chosen, body.project_ids)
    labels = list(body.labels) if body.labels is not None else _most_common_labels(session, projects)
    included = [project for project in projects if set(project.labels) == set(labels)]
    skipped = [
        {"project_id": project.id, "reason": "different_labels"} for project in projects if project not in included
    ]
    source = _source_cells(class_id, [stored_id(project) for project in included], labels)
    count = session.exec(select(func.count()).select_from(source.subquery())).one()
    if count == 0:
        raise invalid(
            "The chosen projects have no samples with these labels yet: nothing to build a class data set from.",
            "empty_class_dataset",
        )
    if count > MAX_SAMPLES:
        raise too_large(
            f"These projects hold {count} samples; a class data set takes at most {MAX_SAMPLES}. "
            "Choose fewer students or projects.",
            "class_dataset_too_large",
        )
    dataset = dataset_of(session, class_id)
    if dataset is None:
        dataset = ClassDataset(class_id=class_id, labels=labels, skipped=skipped)
    else:
        session.exec(delete(ClassSample).where(col(ClassSample.dataset_id) == dataset.id))
        dataset.labels, dataset.skipped = labels, skipped
        dataset.version += 1
    dataset.built_by = user.id
    dataset.built_at = utcnow()
    session.add(dataset)
    flush_or_busy(session, "The class data set")
    columns = ["member_id", "writer_number", "project_id", "cell_id", "label", "image", "dataset_id"]
    rows = source.add_columns(sa.literal(stored_id(dataset), sa.Integer)).order_by(func.random())
    # In random order, so neighbouring samples (and their ids) say nothing about who wrote them.
    session.exec(sa.insert(ClassSample).from_select(columns, rows))
    return view(session, viewer, dataset)


def _chosen_students(class_students: dict[int, Student], student_ids: list[int] | None) -> dict[int, Student]:
    if student_ids is None:
        return class_students
    strangers = sorted(set(student_ids) - set(class_students))
    if strangers:
        raise invalid("Only the class's own students can be chosen.", "not_a_student", user_ids=strangers)
    return {user_id: class_students[user_id] for user_id in student_ids}


def _chosen_projects(session: Session, chosen: dict[int, Student], project_ids: list[int] | None) -> list[Project]:
    projects = list(
        session.exec(select(Project).where(col(Project.owner_id).in_(list(chosen))).order_by(col(Project.id)))
    )
    if project_ids is None:
        return projects
    available = {project.id for project in projects}
    strangers = sorted(set(project_ids) - available)
    if strangers:
        raise invalid(
            "Only projects of the chosen students can be chosen.", "not_a_student_project", project_ids=strangers
        )
    return [project for project in projects if project.id in set(project_ids)]


def _most_common_labels(session: Session, projects: list[Project]) -> list[str]:
    """The label set most projects with samples share (in the order of the first of them); ties: the earliest."""
    with_samples = set(
        session.exec(
            select(Cell.project_id)
            .where(col(Cell.project_id).in_([project.id for project in projects]), col(Cell.included))
            .distinct()
        )
    )
    candidates = [project for project in projects if project.id in with_samples]
    if not candidates:
        raise invalid(
            "None of the chosen projects has samples yet: nothing to build a class data set from.",
            "empty_class_dataset",
        )
    votes = Counter(frozenset(project.labels) for project in candidates)
    best = max(votes.values())
    return next(list(project.labels) for project in candidates if votes[frozenset(project.labels)] == best)


def _source_cells(class_id: int, project_ids: list[int], labels: list[str]) -> sa.Select:
    """The cells that go into the data set, with their writer (ClassSample's columns but the data set's id)."""
    return (
        sa.select(
            col(ClassMember.id),
            col(ClassMember.writer_number),
            col(Cell.project_id),
            col(Cell.id),
            col(Cell.label),
            col(Cell.image),
        )
        .join(Project, col(Project.id) == Cell.project_id)
        .join(
            ClassMember,
            and_(
                col(ClassMember.user_id) == Project.owner_id,
                col(ClassMember.class_id) == class_id,
                col(ClassMember.role) == ClassRole.STUDENT,
            ),
        )
        .where(
            col(Cell.project_id).in_(project_ids),
            col(Cell.included),
            col(Cell.image).is_not(None),
            col(Cell.label).in_(labels),
            col(ClassMember.writer_number).is_not(None),
            outside_challenges(),
        )
    )


def delete_dataset(session: Session, user: User, class_id: int) -> None:
    teacher_of(session, user, class_id)
    session.delete(get_dataset(session, class_id))
    session.flush()


# --- reading -------------------------------------------------------------------------------------------------
def public(session: Session, user: User, class_id: int) -> ClassDatasetPublic:
    viewer = member_of(session, user, class_id)
    return view(session, viewer, get_dataset(session, class_id))


def view(session: Session, viewer: Membership, dataset: ClassDataset) -> ClassDatasetPublic:
    in_dataset = col(ClassSample.dataset_id) == dataset.id
    per_label = dict(
        session.exec(select(ClassSample.label, func.count()).where(in_dataset).group_by(col(ClassSample.label))).all()
    )
    per_project = session.exec(
        select(ClassSample.project_id, ClassSample.writer_number, func.count())
        .where(in_dataset)
        .group_by(col(ClassSample.project_id), col(ClassSample.writer_number))
    ).all()
    per_writer: Counter[int] = Counter()
    for _, writer_number, count in per_project:
        per_writer[writer_number] += count
    names = nicknames_by_writer(session, viewer.class_id) if viewer.is_teacher else {}
    sources = skipped = None
    if viewer.is_teacher:
        sources, skipped = _sources(session, viewer.class_id, dataset, per_project)
    return ClassDatasetPublic(
        class_id=viewer.class_id,
        version=dataset.version,
        built_at=dataset.built_at,
        labels=dataset.labels,
        total=sum(per_label.values()),
        per_label=[LabelTally(label=label, samples=per_label.get(label, 0)) for label in dataset.labels],
        per_writer=[
            WriterTally(
                writer_number=number,
                nickname=names.get(number),
                you=number == viewer.member.writer_number,
                samples=count,
            )
            for number, count in sorted(per_writer.items())
        ],
        sources=sources,
        skipped=skipped,
    )


def _sources(
    session: Session, class_id: int, dataset: ClassDataset, per_project
) -> tuple[list[DatasetSource], list[SkippedProject]]:
    skipped_reasons = {entry["project_id"]: entry["reason"] for entry in dataset.skipped}
    project_ids = [project_id for project_id, _, _ in per_project] + list(skipped_reasons)
    projects = {
        project.id: project for project in session.exec(select(Project).where(col(Project.id).in_(project_ids)))
    }
    class_students = students(session, class_id)

    def described(project_id: int) -> dict | None:
        """The project and its student; None for deleted projects and students who left the class (gone from
        the lists as from the data set)."""
        project = projects.get(project_id)
        student = class_students.get(project.owner_id) if project is not None else None
        if project is None or student is None:
            return None
        return {
            "project_id": project_id,
            "project_name": project.name,
            "user_id": student.user_id,
            "nickname": student.nickname,
            "labels": project.labels,
        }

    sources = [
        DatasetSource(**info, writer_number=writer_number, samples=count)
        for project_id, writer_number, count in sorted(per_project)
        if (info := described(project_id)) is not None
    ]
    skipped = [
        SkippedProject(**info, reason=reason)
        for project_id, reason in skipped_reasons.items()
        if (info := described(project_id)) is not None
    ]
    return sources, skipped


def sample_page(session: Session, user: User, class_id: int, label: str | None, page: Page) -> ClassSamplePage:
    """The samples, page by page: anonymous images for students; with writer and nickname for teachers."""
    viewer = member_of(session, user, class_id)
    dataset = get_dataset(session, class_id)
    if label is not None and label not in dataset.labels:
        raise invalid(f"'{label}' is not one of the class data set's labels.", "unknown_label")
    query = select(ClassSample).where(ClassSample.dataset_id == dataset.id)
    if label is not None:
        query = query.where(ClassSample.label == label)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    names = nicknames_by_writer(session, class_id) if viewer.is_teacher else {}
    items = [
        ClassSamplePublic(
            label=sample.label,
            image=sample_data_url(sample.image),
            writer_number=sample.writer_number if viewer.is_teacher else None,
            nickname=names.get(sample.writer_number),
        )
        for sample in session.exec(page.apply(query.order_by(col(ClassSample.id))))
    ]
    return ClassSamplePage(total=total, offset=page.offset, limit=page.limit, items=items)


def sample_data_url(image: bytes) -> str:
    """A stored sample (ink bright) as people see samples: a PNG of dark ink on white, as a data: URL."""
    return "data:image/png;base64," + base64.b64encode(encode_png(255 - image_array(image))).decode()


# --- training on it ------------------------------------------------------------------------------------------
def dataset_for_training(session: Session, user_id: int, class_id: int) -> ClassDataset:
    """The data set of a class the user is a member of (student or teacher), for a training of theirs."""
    school_class = session.get(SchoolClass, class_id)
    if school_class is None or classes_service.membership(session, class_id, user_id) is None:
        raise not_found("Class")
    require_open(school_class)
    dataset = dataset_of(session, class_id)
    if dataset is None:
        raise conflict("This class has no class data set yet: your teacher builds it.", "no_class_dataset")
    return dataset


def label_counts(session: Session, dataset: ClassDataset) -> list[int]:
    rows = dict(
        session.exec(
            select(ClassSample.label, func.count())
            .where(ClassSample.dataset_id == dataset.id)
            .group_by(col(ClassSample.label))
        ).all()
    )
    return [int(rows.get(label, 0)) for label in dataset.labels]


def training_rows(session: Session, class_id: int) -> list[tuple[str, bytes]] | None:
    """(label, image) of every sample of the class's data set, in a fixed order; None without a data set."""
    dataset = dataset_of(session, class_id)
    if dataset is None:
        return None
    query = select(ClassSample.label, ClassSample.image).where(ClassSample.dataset_id == dataset.id)
    return [(label, image) for label, image in session.exec(query.order_by(col(ClassSample.id)))]


def _other_writers_samples(dataset: ClassDataset, trainer_member_id: int, labels: list[str]):  # a SQL condition
    return and_(
        col(ClassSample.dataset_id) == dataset.id,
        col(ClassSample.member_id) != trainer_member_id,
        col(ClassSample.label).in_(labels),
    )


def other_writers_rows(
    session: Session, dataset: ClassDataset, trainer_member_id: int, labels: list[str]
) -> list[tuple[int, str, bytes]]:
    """(writer number, label, image) of the data set's samples of `labels` by everyone but one member."""
    query = select(ClassSample.writer_number, ClassSample.label, ClassSample.image).where(
        _other_writers_samples(dataset, trainer_member_id, labels)
    )
    return [(writer, label, image) for writer, label, image in session.exec(query.order_by(col(ClassSample.id)))]


def count_other_writers_samples(
    session: Session, dataset: ClassDataset, trainer_member_id: int, labels: list[str]
) -> int:
    return session.exec(
        select(func.count()).select_from(ClassSample).where(_other_writers_samples(dataset, trainer_member_id, labels))
    ).one()
