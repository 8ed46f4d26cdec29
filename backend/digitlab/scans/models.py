from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from digitlab.core.models import utcnow


class Scan(SQLModel, table=True):
    """One page: an uploaded image file, or one page of an uploaded PDF / multi-page TIFF."""

    __tablename__ = "scans"
    __table_args__ = (UniqueConstraint("project_id", "sha256", "page_index"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    # Content hash of the uploaded file; pages of one file share it (and share the original).
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)  # shown to the user only, never used as a path
    media_type: str = Field(max_length=64)
    size_bytes: int
    page_index: int = 0
    page_count: int = 1
    width: int
    height: int
    status: str = Field(default="uploaded", max_length=16)  # uploaded | extracted | failed
    error: str | None = None
    corners: list | None = Field(default=None, sa_column=Column(JSON))
    kept_count: int = 0
    blank_count: int = 0
    rejected_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    extracted_at: datetime | None = None
