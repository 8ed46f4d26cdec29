"""Classes and memberships written straight into the database, for tests of what teachers may see (the roster,
read access to students' projects) that do not exercise how a class is made or joined."""

from datetime import timedelta

from sqlmodel import select

from digitlab.auth.tables import Role, User, username_key
from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
from digitlab.core.clock import utcnow
from digitlab.core.db import stored_id, unit_of_work
from tests.conftest import UserHandle


def user_id(client, user: UserHandle) -> int:
    with unit_of_work(client.app.state.engine) as session:
        found = session.exec(select(User).where(User.username_key == username_key(user.username))).one()
        return stored_id(found)


def make_class(client, name: str, teachers: list[UserHandle], students: list[UserHandle] = ()) -> int:
    """A class with these teachers and students (writer numbers 1, 2 ... in the order given); its id."""
    teacher_ids = [user_id(client, teacher) for teacher in teachers]
    student_ids = [user_id(client, student) for student in students]
    with unit_of_work(client.app.state.engine) as session:
        school_class = SchoolClass(name=name, delete_after=utcnow() + timedelta(days=365))
        session.add(school_class)
        session.flush()
        class_id = stored_id(school_class)
        for teacher_id in teacher_ids:
            session.get(User, teacher_id).role = Role.TEACHER
            session.add(ClassMember(class_id=class_id, user_id=teacher_id, role=ClassRole.TEACHER))
        for number, student_id in enumerate(student_ids, start=1):
            session.add(ClassMember(class_id=class_id, user_id=student_id, role=ClassRole.STUDENT,
                                    writer_number=number))
    return class_id


def add_member(client, class_id: int, user: UserHandle, role: ClassRole = ClassRole.STUDENT) -> None:
    member_id = user_id(client, user)
    with unit_of_work(client.app.state.engine) as session:
        numbers = session.exec(select(ClassMember.writer_number).where(ClassMember.class_id == class_id)).all()
        writer_number = max((n for n in numbers if n is not None), default=0) + 1 if role == ClassRole.STUDENT else None
        session.add(ClassMember(class_id=class_id, user_id=member_id, role=role, writer_number=writer_number))


def remove_member(client, class_id: int, user: UserHandle, *, missing_ok: bool = False) -> None:
    member_id = user_id(client, user)
    with unit_of_work(client.app.state.engine) as session:
        member = session.exec(select(ClassMember).where(ClassMember.class_id == class_id,
                                                        ClassMember.user_id == member_id)).first()
        assert member is not None or missing_ok, f"{user.username} is not in class {class_id}"
        if member is not None:
            session.delete(member)
