"""Secrets the server keeps in its database (all replicas and workers read the same ones)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow


class ServerSecret(SQLModel, table=True):
    """A named random secret, made once (migration 0008 makes the sheet codes' key). Nothing returns it."""

    __tablename__ = "server_secrets"

    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)  # hex
    created_at: datetime = Field(default_factory=utcnow)
