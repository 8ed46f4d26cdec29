"""A class: its teachers and students (memberships), and the codes students join it with.

Students are known to a class by their username (a nickname: no e-mail, no real name anywhere) and, to other
students, only as "writer N": `ClassMember.writer_number`, given once in the order students join and never reused
in that class, so "writer 3" stays the same writer for the whole course.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class ClassRole(StrEnum):
    TEACHER = "teacher"  # sees and manages the whole class (co-teachers are equal)
    STUDENT = "student"


class SchoolClass(SQLModel, table=True):
    __tablename__ = "classes"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    # A closed class takes no new students and no new work for the class; its data stays until deleted.
    closed_at: datetime | None = None
    # The service deletes the class's data by itself after this moment (data protection: storage limitation).
    delete_after: datetime
    # The last writer number given in this class: numbers count up from it and are never given twice, even after
    # the student who had one left (one atomic UPDATE per join, so two students joining at once differ).
    last_writer_number: int = 0


class ClassMember(SQLModel, table=True):
    __tablename__ = "class_members"
    __table_args__ = (
        UniqueConstraint("class_id", "user_id"),
        UniqueConstraint("class_id", "writer_number"),  # teachers have none (NULLs never clash)
        NO_ID_REUSE,
    )

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="classes.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=16)  # a ClassRole
    writer_number: int | None = None  # students only: "writer N" to the other students
    # The account exists only for this class (login cards, a learning platform's launch): it goes with the class
    # when the class's data is deleted. Students who registered themselves keep their account and own projects.
    account_made_for_class: bool = False
    joined_at: datetime = Field(default_factory=utcnow)


class JoinCode(SQLModel, table=True):
    """What students type (or scan as a QR code, or open as a link) to join a class. Short and readable
    (no 0/O or 1/I/L), expiring and revocable; a class may have several (e.g. one per lesson)."""

    __tablename__ = "join_codes"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="classes.id", index=True, ondelete="CASCADE")
    code: str = Field(unique=True, index=True, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


class TeacherInvite(SQLModel, table=True):
    """An admin's invitation: whoever registers with it (or redeems it while logged in) becomes a teacher.
    Single use; stored only as a hash, like tokens."""

    __tablename__ = "teacher_invites"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(unique=True, index=True, max_length=64)
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    used_at: datetime | None = None
    used_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
