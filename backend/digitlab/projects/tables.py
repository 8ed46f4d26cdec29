from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class Project(SQLModel, table=True):
    __tablename__ = "projects"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    # Ten short strings; labels[i] is written in rows 3i..3i+2 of the sheet.
    labels: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
