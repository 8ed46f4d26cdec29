from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


def username_key(username: str) -> str:
    """The form a username is looked up by: `U1` and `u1` are one account."""
    return username.casefold()


def _username_key_default(context) -> str:  # context: SQLAlchemy's insert context
    return username_key(context.get_current_parameters()["username"])


class Role(StrEnum):
    """What an account may do on the whole instance. Access to a class's students comes from class membership
    (digitlab.classes), never from the role alone: a teacher sees only the classes they teach."""

    ADMIN = "admin"  # invites teachers, registers learning platforms; also a teacher
    TEACHER = "teacher"  # creates classes
    STUDENT = "student"


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)  # as the student typed it at registration, for display
    # Unique and what logins look up; filled from `username` when not given.
    username_key: str = Field(
        default=None, unique=True, index=True, max_length=64, sa_column_kwargs={"default": _username_key_default}
    )
    password_hash: str
    role: str = Field(default=Role.STUDENT, max_length=16)  # a Role
    # Set by a teacher's login card or password reset: the one-time password must be replaced at the next login.
    password_is_temporary: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)


class AuthToken(SQLModel, table=True):
    """A bearer token: a web session (expires) or a named long-lived API token (until revoked)."""

    __tablename__ = "auth_tokens"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)  # "session" | "api"
    name: str = Field(default="", max_length=100)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    prefix: str = Field(max_length=12)  # first characters, so a user can tell their tokens apart
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
