"""Classes: who teaches and who learns in which class, and the rules that follow from it.

Membership is the only source of a teacher's access to students: `teaches_student` is the one question every
other domain asks ("may this user read that student's things?"), and `students_taught_by` is the same rule as a
query condition for lists. A removed student (membership deleted) is out of reach at once.

Every teacher of a class manages all of it alike (co-teachers are equal); a class always keeps one teacher.
Students join with a join code (their own nickname and password), or get an account made for the class (a
login card with a one-time password): such an account goes with the class, while students who made their own
account keep it, and their projects, when they leave or the class is deleted.
"""

import re
import unicodedata
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digitlab.auth import service as auth_service
from digitlab.auth.tables import Role, User, username_key
from digitlab.classes.schemas import ClassCreate, ClassDetails, ClassPublic, ClassUpdate, MemberPublic, StudentsCreate
from digitlab.classes.tables import ClassMember, ClassRole, JoinCode, SchoolClass
from digitlab.core import codes, security
from digitlab.core.clock import utcnow
from digitlab.core.config import Settings
from digitlab.core.db import after_commit, stored_id
from digitlab.core.errors import DomainError, ErrorKind, conflict, invalid, not_found
from digitlab.core.paging import FIRST_PAGE, Page
from digitlab.core.ratelimit import RateLimiter
from digitlab.core.storage import FileStorage
from digitlab.jobs.runner import JobRunner

JOIN_CODE_LENGTH = 8  # 30^8 ~ 6.6e11 codes, shown as ABCD-EFGH
MAX_ACTIVE_JOIN_CODES = 20  # per class: one per lesson is plenty
JOIN_ATTEMPT = "join-code"  # what the limiter counts: wrong join codes, per client address
ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"


def membership(session: Session, class_id: int, user_id: int) -> ClassMember | None:
    return session.exec(
        select(ClassMember).where(ClassMember.class_id == class_id, ClassMember.user_id == user_id)
    ).first()


def _classes_taught_by(teacher_id: int):
    return select(ClassMember.class_id).where(ClassMember.user_id == teacher_id, ClassMember.role == ClassRole.TEACHER)


def students_taught_by(teacher_id: int):
    """The ids of the students of every class `teacher_id` teaches, as a subquery (for `col(...).in_(...)`)."""
    return select(ClassMember.user_id).where(
        ClassMember.role == ClassRole.STUDENT, col(ClassMember.class_id).in_(_classes_taught_by(teacher_id))
    )


def teaches_student(session: Session, teacher: User, student_id: int) -> bool:
    """Whether `teacher` is a teacher of a class in which `student_id` is a student."""
    if teacher.id is None or teacher.id == student_id:
        return False
    query = select(ClassMember.id).where(
        ClassMember.user_id == student_id,
        ClassMember.role == ClassRole.STUDENT,
        col(ClassMember.class_id).in_(_classes_taught_by(teacher.id)),
    )
    return session.exec(query.limit(1)).first() is not None


def get_class(session: Session, user: User, class_id: int, *, role: ClassRole | None = None) -> SchoolClass:
    """The class, for a member of it (with `role`: only for members in that role); 404 for everyone else, so
    nobody learns which classes exist."""
    school_class = session.get(SchoolClass, class_id)
    member = membership(session, class_id, user.id) if school_class is not None and user.id is not None else None
    if school_class is None or member is None or (role is not None and member.role != role):
        raise not_found("Class")
    return school_class


def get_taught_class(session: Session, user: User, class_id: int) -> SchoolClass:
    """The class, for its teachers; 404 for everyone else (its students too)."""
    return get_class(session, user, class_id, role=ClassRole.TEACHER)


# --- classes --------------------------------------------------------------------------------------------------
def _retention(settings: Settings, days: int | None) -> datetime:
    days = settings.class_retention_days if days is None else days
    if not 1 <= days <= settings.class_retention_max_days:
        raise invalid(
            f"A class's data can be kept for 1 to {settings.class_retention_max_days} days.",
            "invalid_retention",
            max_days=settings.class_retention_max_days,
        )
    return utcnow() + timedelta(days=days)


def create_class(session: Session, settings: Settings, user: User, body: ClassCreate) -> SchoolClass:
    """A teacher's (or admin's) new class, with them as its first teacher (403 `teachers_only` for students)."""
    auth_service.require_teacher(user)
    school_class = SchoolClass(
        name=body.name, created_by=user.id, delete_after=_retention(settings, body.retention_days)
    )
    session.add(school_class)
    session.flush()
    session.add(ClassMember(class_id=stored_id(school_class), user_id=stored_id(user), role=ClassRole.TEACHER))
    session.flush()
    return school_class


def update_class(session: Session, settings: Settings, school_class: SchoolClass, body: ClassUpdate) -> SchoolClass:
    """Rename, keep the data for another number of days from now, close (no new students) or reopen."""
    if body.name is not None:
        school_class.name = body.name
    if body.retention_days is not None:
        school_class.delete_after = _retention(settings, body.retention_days)
    if body.closed is not None and body.closed != (school_class.closed_at is not None):
        school_class.closed_at = utcnow() if body.closed else None
    session.add(school_class)
    session.flush()
    return school_class


def files_prefix(class_id: int) -> str:
    """Where a class's own files live (e.g. bulk-scanned pages not yet assigned to a student)."""
    return f"classes/{class_id}"


def delete_class(session: Session, storage: FileStorage, runner: JobRunner, school_class: SchoolClass) -> None:
    """The class with its memberships, join codes and files, and the accounts made for it (login cards) with
    their projects (files once committed). Students with their own account keep it and everything of theirs."""
    class_id = stored_id(school_class)
    made_for_class = session.exec(
        select(User)
        .join(ClassMember, col(ClassMember.user_id) == User.id)
        .where(ClassMember.class_id == class_id, col(ClassMember.account_made_for_class))
    ).all()
    for user in made_for_class:
        _delete_account_made_for_class(session, storage, runner, user, class_id)
    session.delete(school_class)  # memberships, join codes and the class's other rows go with it (ON DELETE CASCADE)
    session.flush()
    after_commit(session, lambda: storage.delete_tree(files_prefix(class_id)))


def _delete_account_made_for_class(
    session: Session, storage: FileStorage, runner: JobRunner, user: User, class_id: int
) -> bool:
    """Delete an account made for the class, with its projects, unless it has become more than that (a
    student of another class too, or a teacher's account): then it stays and only its membership goes.
    Returns whether it was deleted."""
    # projects.service and jobs.service ask this module about read access: imported here, not at the top.
    from digitlab.jobs import service as jobs_service
    from digitlab.projects import service as projects_service
    from digitlab.projects.tables import Project

    elsewhere = session.exec(
        select(ClassMember.id).where(ClassMember.user_id == user.id, ClassMember.class_id != class_id).limit(1)
    ).first()
    if user.role != Role.STUDENT or elsewhere is not None:
        return False
    for project in session.exec(select(Project).where(Project.owner_id == user.id)).all():
        jobs_service.cancel_project_jobs(session, runner, stored_id(project))
        projects_service.delete_project(session, storage, project)
    session.delete(user)  # sessions, memberships, jobs and trainings go with it (ON DELETE CASCADE)
    session.flush()
    return True


def _details(session: Session, class_ids: list[int]) -> dict[int, ClassDetails]:
    """What the teachers see of these classes, in three queries however many classes."""
    if not class_ids:
        return {}
    students = dict(
        session.exec(
            select(ClassMember.class_id, func.count())
            .where(col(ClassMember.class_id).in_(class_ids), ClassMember.role == ClassRole.STUDENT)
            .group_by(col(ClassMember.class_id))
        ).all()
    )
    teachers: dict[int, list[str]] = {}
    for class_id, name in session.exec(
        select(ClassMember.class_id, User.username)
        .join(User, col(User.id) == ClassMember.user_id)
        .where(col(ClassMember.class_id).in_(class_ids), ClassMember.role == ClassRole.TEACHER)
        .order_by(col(ClassMember.id))
    ):
        teachers.setdefault(class_id, []).append(name)
    classes = session.exec(select(SchoolClass).where(col(SchoolClass.id).in_(class_ids))).all()
    return {
        stored_id(c): ClassDetails(
            created_at=c.created_at,
            closed_at=c.closed_at,
            delete_after=c.delete_after,
            student_count=students.get(stored_id(c), 0),
            teachers=teachers.get(stored_id(c), []),
        )
        for c in classes
    }


def _public(school_class: SchoolClass, member: ClassMember, details: dict[int, ClassDetails]) -> ClassPublic:
    return ClassPublic(
        id=stored_id(school_class),
        name=school_class.name,
        role=member.role,
        writer_number=member.writer_number,
        closed=school_class.closed_at is not None,
        details=details.get(stored_id(school_class)) if member.role == ClassRole.TEACHER else None,
    )


def class_public(session: Session, user: User, school_class: SchoolClass) -> ClassPublic:
    """The class as `user` (a member) sees it: students only its name and their own writer number."""
    member = membership(session, stored_id(school_class), stored_id(user))
    if member is None:
        raise not_found("Class")
    return _public(school_class, member, _details(session, [stored_id(school_class)]))


def list_classes(session: Session, user: User, page: Page = FIRST_PAGE) -> list[ClassPublic]:
    """The classes `user` teaches or learns in, oldest first, with their role in each."""
    rows = session.exec(
        page.apply(
            select(SchoolClass, ClassMember)
            .join(ClassMember, col(ClassMember.class_id) == SchoolClass.id)
            .where(ClassMember.user_id == user.id)
            .order_by(col(SchoolClass.id))
        )
    ).all()
    taught = [stored_id(c) for c, m in rows if m.role == ClassRole.TEACHER]
    details = _details(session, taught)
    return [_public(c, m, details) for c, m in rows]


# --- members --------------------------------------------------------------------------------------------------
def _member_public(member: ClassMember, user: User) -> MemberPublic:
    return MemberPublic(
        user_id=member.user_id,
        username=user.username,
        role=member.role,
        writer_number=member.writer_number,
        joined_at=member.joined_at,
        account_made_for_class=member.account_made_for_class,
        password_change_required=user.password_is_temporary,
    )


def list_members(session: Session, school_class: SchoolClass, page: Page = FIRST_PAGE) -> list[MemberPublic]:
    """Teachers first, then the students by writer number (for the class's teachers)."""
    rows = session.exec(
        page.apply(
            select(ClassMember, User)
            .join(User, col(User.id) == ClassMember.user_id)
            .where(ClassMember.class_id == school_class.id)
            .order_by(col(ClassMember.role).desc(), col(ClassMember.writer_number), col(ClassMember.id))
        )
    ).all()
    return [_member_public(member, user) for member, user in rows]


def add_teacher(session: Session, school_class: SchoolClass, username: str) -> MemberPublic:
    """A co-teacher: another teacher's (or admin's) account, by username; from now on equal to the others."""
    user = session.exec(select(User).where(User.username_key == username_key(username))).first()
    if user is None or not auth_service.is_teacher(user):
        raise invalid("There is no teacher's account with that username.", "unknown_teacher")
    if membership(session, stored_id(school_class), stored_id(user)) is not None:
        raise conflict(f"{user.username} is already in this class.", "already_member")
    return _member_public(add_teacher_account(session, school_class, user), user)


def add_teacher_account(session: Session, school_class: SchoolClass, user: User) -> ClassMember:
    """Make `user` (a teacher's or admin's account, e.g. an instructor launched from a learning platform) a teacher
    of the class; 409 `already_member` if they are in it."""
    member = ClassMember(class_id=stored_id(school_class), user_id=stored_id(user), role=ClassRole.TEACHER)
    _add_member(session, member)
    return member


def _add_member(session: Session, member: ClassMember) -> None:
    session.add(member)
    try:
        session.flush()
    except IntegrityError:  # the same account joining twice at once (the unit of work rolls back)
        raise conflict("This account is already in this class.", "already_member") from None


def _next_writer_number(session: Session, class_id: int) -> int:
    # One atomic UPDATE: two students joining at the same moment get different numbers, and a number once given
    # is never given again in this class.
    result = session.exec(
        update(SchoolClass)
        .where(col(SchoolClass.id) == class_id)
        .values(last_writer_number=col(SchoolClass.last_writer_number) + 1)
        .returning(col(SchoolClass.last_writer_number))
        .execution_options(synchronize_session=False)
    )
    return result.scalar_one()


def add_student(
    session: Session, school_class: SchoolClass, user: User, *, made_for_class: bool = False
) -> ClassMember:
    """The one way a student enters a class (a join code, a login card, a learning platform's launch): with the
    class's next writer number. 409 `already_member` if they are in it."""
    class_id = stored_id(school_class)
    member = ClassMember(
        class_id=class_id,
        user_id=stored_id(user),
        role=ClassRole.STUDENT,
        writer_number=_next_writer_number(session, class_id),
        account_made_for_class=made_for_class,
    )
    _add_member(session, member)
    session.expire(school_class, ["last_writer_number"])  # changed in the database, read again when asked
    return member


def _require_another_teacher(session: Session, class_id: int) -> None:
    teachers = session.exec(
        select(func.count()).where(ClassMember.class_id == class_id, ClassMember.role == ClassRole.TEACHER)
    ).one()
    if teachers < 2:
        raise conflict("A class needs a teacher: add another teacher first, or delete the class.", "last_teacher")


def remove_member(
    session: Session, storage: FileStorage, runner: JobRunner, school_class: SchoolClass, user_id: int
) -> None:
    """A teacher removes a student (or a co-teacher) from the class. An account made for the class is deleted
    with its projects; everyone else keeps their account and everything of theirs."""
    class_id = stored_id(school_class)
    member = membership(session, class_id, user_id)
    user = session.get(User, user_id)
    if member is None or user is None:
        raise not_found("Member")
    if member.role == ClassRole.TEACHER:
        _require_another_teacher(session, class_id)
    if member.account_made_for_class and _delete_account_made_for_class(session, storage, runner, user, class_id):
        return
    session.delete(member)
    session.flush()


def leave_class(session: Session, user: User, school_class: SchoolClass) -> None:
    """A member leaves. Not with an account made for the class (it exists only for it: the teacher removes it),
    and not the last teacher."""
    class_id = stored_id(school_class)
    member = membership(session, class_id, stored_id(user))
    if member is None:
        raise not_found("Class")
    if member.account_made_for_class:
        raise conflict(
            "This account was made for this class and ends with it. Your teacher can remove it.",
            "account_made_for_class",
        )
    if member.role == ClassRole.TEACHER:
        _require_another_teacher(session, class_id)
    session.delete(member)
    session.flush()


# --- join codes -----------------------------------------------------------------------------------------------
def join_code_status(join_code: JoinCode, now: datetime | None = None) -> str:
    if join_code.revoked_at is not None:
        return REVOKED
    return EXPIRED if join_code.expires_at <= (now or utcnow()) else ACTIVE


def join_link(join_code: JoinCode) -> str:
    """The web app's join page for this code, relative to the app's address."""
    return f"/#/join/{codes.display(join_code.code)}"


def _require_open(school_class: SchoolClass) -> None:
    if school_class.closed_at is not None:
        raise conflict("This class is closed: it takes no new students.", "class_closed")


def create_join_code(
    session: Session, settings: Settings, school_class: SchoolClass, valid_days: int | None = None
) -> JoinCode:
    """A new code for an open class (409 `class_closed`), valid for `valid_days` (default 14)."""
    _require_open(school_class)
    days = settings.join_code_days if valid_days is None else valid_days
    if not 1 <= days <= settings.join_code_max_days:
        raise invalid(
            f"A join code is valid for 1 to {settings.join_code_max_days} days.",
            "invalid_days",
            max_days=settings.join_code_max_days,
        )
    now = utcnow()
    active = session.exec(
        select(func.count()).where(
            JoinCode.class_id == school_class.id, col(JoinCode.revoked_at).is_(None), col(JoinCode.expires_at) > now
        )
    ).one()
    if active >= MAX_ACTIVE_JOIN_CODES:
        raise conflict(
            f"A class can have at most {MAX_ACTIVE_JOIN_CODES} active join codes: revoke one first.", "too_many_codes"
        )
    while True:  # a clash with an existing code is unlikely (1 in 10^8 with thousands of codes), but possible
        code = codes.new_code(JOIN_CODE_LENGTH)
        if session.exec(select(JoinCode.id).where(JoinCode.code == code)).first() is None:
            break
    join_code = JoinCode(class_id=stored_id(school_class), code=code, expires_at=now + timedelta(days=days))
    session.add(join_code)
    session.flush()
    return join_code


def list_join_codes(session: Session, school_class: SchoolClass, page: Page = FIRST_PAGE) -> list[JoinCode]:
    """Every code of the class, newest first (expired and revoked ones too, marked by their status)."""
    query = select(JoinCode).where(JoinCode.class_id == school_class.id).order_by(col(JoinCode.id).desc())
    return list(session.exec(page.apply(query)))


def get_join_code(session: Session, school_class: SchoolClass, code_id: int) -> JoinCode:
    join_code = session.get(JoinCode, code_id)
    if join_code is None or join_code.class_id != school_class.id:
        raise not_found("Join code")
    return join_code


def revoke_join_code(session: Session, join_code: JoinCode) -> None:
    """From now on nobody joins with it (revoking twice changes nothing)."""
    if join_code.revoked_at is None:
        join_code.revoked_at = utcnow()
        session.add(join_code)
        session.flush()


_JOIN_CODE_REFUSALS = {
    EXPIRED: "This join code has expired. Please ask your teacher for a new one.",
    REVOKED: "This join code is no longer valid. Please ask your teacher for a new one.",
}
# Spelled out, not built from the status: scripts/api_types.py collects every error code from the source.
_JOIN_CODE_REFUSAL_CODES = {EXPIRED: "join_code_expired", REVOKED: "join_code_revoked"}


def refuse_while_locked_out(settings: Settings, limiter: RateLimiter, client: str) -> None:
    """429 while the client address has used up its wrong join codes."""
    if (wait := limiter.wait_seconds(settings.join_code_ip_limits, JOIN_ATTEMPT, client)) is not None:
        raise auth_service.rate_limited("Too many wrong join codes from your network.", wait)


def class_for_join_code(
    session: Session, settings: Settings, limiter: RateLimiter, client: str, typed: str
) -> tuple[JoinCode, SchoolClass]:
    """The open class a typed join code leads to; 422 `join_code_unknown`, `join_code_expired`,
    `join_code_revoked`; 409 `class_closed`.

    Wrong codes are counted per client address (settings.join_code_ip_limits): when they are used up, every
    attempt from there waits (429 with Retry-After), right codes too. Only unknown codes count: an expired code a
    whole class types at once must not lock its school out, and guessing finds an expired code no sooner."""
    policy = settings.join_code_ip_limits
    refuse_while_locked_out(settings, limiter, client)
    code = codes.normalize(typed, JOIN_CODE_LENGTH)
    join_code = session.exec(select(JoinCode).where(JoinCode.code == code)).first() if code is not None else None
    if join_code is None:
        limiter.hit(policy, JOIN_ATTEMPT, client)
        raise invalid("This join code is not valid. Please check it and try again.", "join_code_unknown")
    status = join_code_status(join_code)
    if status != ACTIVE:
        raise invalid(_JOIN_CODE_REFUSALS[status], _JOIN_CODE_REFUSAL_CODES[status])
    school_class = session.get(SchoolClass, join_code.class_id)
    assert school_class is not None, "a join code goes with its class"
    _require_open(school_class)
    return join_code, school_class


def join_with_code(
    session: Session, settings: Settings, limiter: RateLimiter, client: str, user: User, typed: str
) -> SchoolClass:
    """A logged-in user joins a class as a student (409 `already_member` if they are in it)."""
    _, school_class = class_for_join_code(session, settings, limiter, client, typed)
    if membership(session, stored_id(school_class), stored_id(user)) is not None:
        raise conflict("You are already in this class.", "already_member")
    add_student(session, school_class, user)
    return school_class


def join_with_new_account(
    session: Session, settings: Settings, limiter: RateLimiter, client: str, typed: str, username: str, password: str
) -> tuple[User, SchoolClass]:
    """A new student's account (a nickname and a password of their own) in the class a join code leads to.
    A wrong code makes nothing. Counts as a registration for the address's limit."""
    refuse_while_locked_out(settings, limiter, client)  # a locked-out guesser costs no hashing
    auth_service.check_password(settings, password, username)
    # Hashed before the first query: a class joining at once queues for the hashing (security.password_work)
    # without holding a database connection that the rest of the lesson's requests need.
    password_hash = security.hash_password(password)
    _, school_class = class_for_join_code(session, settings, limiter, client, typed)
    auth_service.count_registration(settings, limiter, client)
    user = auth_service.add_account(session, username, password_hash)
    add_student(session, school_class, user)
    return user, school_class


# --- accounts made for the class (login cards) ----------------------------------------------------------------
def _default_prefix(class_name: str) -> str:
    """The class's name in ASCII letters and digits, then '-': "Klasse 7b" -> "klasse7b-"."""
    ascii_name = unicodedata.normalize("NFKD", class_name).encode("ascii", "ignore").decode()
    letters = re.sub(r"[^a-z0-9]", "", ascii_name.lower())[:20]
    return f"{letters or 'student'}-"


def _numbered_names(session: Session, prefix: str, count: int) -> list[str]:
    """`count` free usernames prefix01, prefix02 ... (skipping names already taken)."""
    taken = set(
        session.exec(
            select(User.username_key).where(col(User.username_key).startswith(username_key(prefix), autoescape=True))
        ).all()
    )
    width = max(2, len(str(count)))
    names: list[str] = []
    number = 0
    while len(names) < count:
        number += 1
        name = f"{prefix}{number:0{width}d}"
        if username_key(name) not in taken:
            names.append(name)
    return names


def create_students(session: Session, school_class: SchoolClass, body: StudentsCreate) -> list[tuple[User, str]]:
    """Accounts made for the class, with writer numbers in order, each with a one-time password (returned, for
    the login cards; only hashes are kept). All or nothing: 409 `username_taken` (with `taken`) if a listed
    nickname is, 409 `class_closed` for a closed class."""
    _require_open(school_class)
    if body.usernames is not None:
        names = body.usernames
        keys = [username_key(name) for name in names]
        if len(set(keys)) != len(keys):
            raise invalid("A nickname appears twice in the list.", "duplicate_usernames")
        taken = session.exec(select(User.username).where(col(User.username_key).in_(keys))).all()
        if taken:
            raise conflict(
                f"These usernames are already taken: {', '.join(sorted(taken))}.", "username_taken", taken=sorted(taken)
            )
    else:
        assert body.count is not None, "the schema asks for count or usernames"
        names = _numbered_names(session, body.prefix or _default_prefix(school_class.name), body.count)
    created = []
    for name in names:
        user, password = auth_service.add_account_with_one_time_password(session, name)
        add_student(session, school_class, user, made_for_class=True)
        created.append((user, password))
    return created


def reset_student_password(session: Session, school_class: SchoolClass, user_id: int) -> tuple[User, str]:
    """A new one-time password (a new login card) for a student of the class; their sessions end. Only a student's
    account: one that is also a teacher's or an admin's resets its own password."""
    member = membership(session, stored_id(school_class), user_id)
    user = session.get(User, user_id)
    if member is None or member.role != ClassRole.STUDENT or user is None:
        raise not_found("Student")
    if user.role != Role.STUDENT:
        raise DomainError(
            ErrorKind.FORBIDDEN,
            "This is a teacher's account: only its owner can change its password.",
            "not_a_student_account",
        )
    return user, auth_service.set_one_time_password(session, user)
