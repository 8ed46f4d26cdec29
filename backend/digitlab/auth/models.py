from datetime import datetime

from sqlmodel import Field, SQLModel

from digitlab.core.models import utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    password_hash: str
    # "student" for everyone today; "teacher" and "admin" will grant access through classes later,
    # which then adds a class table and a membership table without touching this one or projects.
    role: str = Field(default="student", max_length=16)
    created_at: datetime = Field(default_factory=utcnow)


class AuthToken(SQLModel, table=True):
    """A bearer token: a web session (expires) or a named long-lived API token (until revoked)."""

    __tablename__ = "auth_tokens"

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
