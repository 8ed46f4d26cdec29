"""Data protection for minors: export and delete a student's data (GDPR articles 15, 17, 20).

Who may do what (docs/privacy.md says it for people):
- Everyone, for their own account: export everything of it as one zip, and delete it with everything (their
  password again). The only teacher of a class cannot delete their account before the class has another teacher
  or is deleted: its students' class data would be left without anyone to manage it.
- A teacher of a class, for a student of that class: export everything of the student (the zip the student gets;
  teachers can already read all of their students' projects). Delete (the teacher's password again): an account
  made for the class (login card, learning platform) goes entirely, with all its data, as when the class is
  deleted (digitlab.classes.service decides when such an account ends); any other student is removed from the
  class together with what of theirs belongs to the class (their membership, their samples in its data set and
  its challenge, their scores and evaluations there) and keeps their account and own projects.
- Nobody else: 404, as for anything one may not see.

What "everything of" an account or a class is comes from the schema's cascading foreign keys
(digitlab.privacy.cascade): deleting is one DELETE of the account's row, and the database removes the rest; the
files go once that has committed. The class retention period: digitlab.privacy.retention.
"""

import re
from collections.abc import Iterable, Iterator
from functools import partial

from sqlalchemy import Engine, delete
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from digitlab.auth import service as auth_service
from digitlab.auth.tables import User
from digitlab.classes import service as classes_service
from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
from digitlab.core.clock import utcnow
from digitlab.core.config import Settings
from digitlab.core.db import after_commit, stored_id
from digitlab.core.errors import DomainError, ErrorKind, conflict, not_found
from digitlab.core.ratelimit import RateLimiter
from digitlab.core.storage import FileStorage
from digitlab.jobs import service as jobs_service
from digitlab.jobs.runner import JobRunner
from digitlab.privacy import cascade
from digitlab.privacy.archive import export_archive
from digitlab.projects import service as projects_service
from digitlab.projects.tables import Project

EXPORT = "export"  # what the rate limiter counts


# --- who ------------------------------------------------------------------------------------------------------
def student_of_class(session: Session, teacher: User, class_id: int, student_id: int) -> tuple[SchoolClass, User]:
    """The class (which `teacher` teaches) and its student; 404 for anyone else (another teacher's class, a
    student asking, a student who is not, or no longer, in the class)."""
    school_class = classes_service.get_taught_class(session, teacher, class_id)
    member = classes_service.membership(session, class_id, student_id)
    student = session.get(User, student_id)
    if member is None or member.role != ClassRole.STUDENT or student is None:
        raise not_found("Student")
    return school_class, student


# --- export ---------------------------------------------------------------------------------------------------
def export_file_name(user: User) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", user.username)[:64]
    return f"digitlab-{safe}-{utcnow():%Y-%m-%d}.zip"


def start_export(
    settings: Settings, limiter: RateLimiter, engine: Engine, storage: FileStorage, subject: User
) -> Iterator[bytes]:
    """The chunks of the zip of everything of `subject`, produced as they are sent (privacy.archive). An export
    reads all of a student's files, so it is limited per student (settings.export_limits), whoever asks: 429
    with Retry-After beyond that."""
    subject_id = stored_id(subject)
    if (wait := limiter.hit(settings.export_limits, EXPORT, str(subject_id))) is not None:
        raise DomainError(
            ErrorKind.RATE_LIMITED,
            f"This data was exported several times just now. Please wait {-(-wait // 60)} minutes and try again.",
            "too_many_exports",
            retry_after=wait,
        )
    return export_archive(engine, storage, subject_id)


# --- delete ---------------------------------------------------------------------------------------------------
def _remove_trees(storage: FileStorage, prefixes: Iterable[str]) -> None:
    for prefix in prefixes:
        storage.delete_tree(prefix)


def delete_account(session: Session, storage: FileStorage, runner: JobRunner, user_id: int) -> None:
    """The account and everything of it: its row goes, the database deletes every row that cascades from it
    (projects, scans, samples, jobs, trainings, memberships, tokens, class data set samples, challenge sheets
    and scores ...); its projects' files go once that is committed, and its running jobs are stopped."""
    project_ids = [pid for pid in session.exec(select(Project.id).where(Project.owner_id == user_id)).all() if pid]
    for project_id in project_ids:
        jobs_service.cancel_project_jobs(session, runner, project_id)
    session.exec(delete(User).where(col(User.id) == user_id))
    prefixes = [projects_service.files_prefix(project_id) for project_id in project_ids]
    after_commit(session, partial(_remove_trees, storage, prefixes))


def _refuse_if_only_teacher(session: Session, user: User) -> None:
    other = aliased(ClassMember)
    co_teacher = select(other.id).where(
        other.class_id == ClassMember.class_id, other.role == ClassRole.TEACHER, other.user_id != ClassMember.user_id
    )
    alone = session.exec(
        select(SchoolClass.name)
        .join(ClassMember, col(ClassMember.class_id) == SchoolClass.id)
        .where(ClassMember.user_id == user.id, ClassMember.role == ClassRole.TEACHER, ~co_teacher.exists())
        .order_by(col(SchoolClass.id))
    ).first()
    if alone is not None:
        raise conflict(
            f"You are the only teacher of the class '{alone}'. Delete the class or add another teacher to it "
            "before you delete your account.",
            "only_teacher",
        )


def delete_own_account(
    session: Session,
    settings: Settings,
    limiter: RateLimiter,
    storage: FileStorage,
    runner: JobRunner,
    user: User,
    password: str,
) -> None:
    auth_service.confirm_password(settings, limiter, user, password)
    _refuse_if_only_teacher(session, user)
    delete_account(session, storage, runner, stored_id(user))


def remove_from_class(session: Session, class_id: int, user_id: int) -> None:
    """What of the member belongs to the class goes: the rows that both deleting their account and deleting the
    class would delete (their membership, their samples in the class data set and challenge, their scores and
    evaluations there). Their account and their own projects stay."""
    users = cascade.table_named(User.__tablename__)
    classes = cascade.table_named(SchoolClass.__tablename__)
    theirs = cascade.cascade_closure(users, users.c.id == user_id)
    the_class = cascade.cascade_closure(classes, classes.c.id == class_id)
    for table, condition in cascade.shared_rows(theirs, the_class, roots={users, classes}):
        session.exec(delete(table).where(condition))


def delete_student_data(
    session: Session,
    settings: Settings,
    limiter: RateLimiter,
    storage: FileStorage,
    runner: JobRunner,
    teacher: User,
    class_id: int,
    student_id: int,
    password: str,
) -> bool:
    """A teacher deletes a student's data (with the teacher's own password). True if the whole account went (it
    was made for this class only), False if the student was removed from the class with their class data."""
    school_class, _ = student_of_class(session, teacher, class_id, student_id)
    auth_service.confirm_password(settings, limiter, teacher, password)
    # What removing a student does (classes.service: an account made for the class is deleted), then the rest
    # of their data in the class, which a removal keeps (their challenge sheets, scores, evaluations).
    classes_service.remove_member(session, storage, runner, school_class, student_id)
    if session.get(User, student_id) is None:
        return True
    remove_from_class(session, class_id, student_id)
    return False
