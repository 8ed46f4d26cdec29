from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class ScanStatus(StrEnum):
    UPLOADED = "uploaded"  # not extracted yet
    EXTRACTED = "extracted"  # its cells are in the dataset
    FAILED = "failed"  # the extraction found no grid (`error` says why)


class Scan(SQLModel, table=True):
    """One page: an uploaded image file, or one page of an uploaded PDF / multi-page TIFF."""

    __tablename__ = "scans"
    __table_args__ = (UniqueConstraint("project_id", "sha256", "page_index"), NO_ID_REUSE)

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
    status: str = Field(default=ScanStatus.UPLOADED, max_length=16)  # a ScanStatus
    error: str | None = None
    # The same reason as a code and its numbers (pipeline.GridNotFound, ImageRejected, SheetProblem), so the web
    # app says it in the student's language.
    error_code: str | None = Field(default=None, max_length=64)
    error_params: dict | None = Field(default=None, sa_column=Column(JSON))
    corners: list | None = Field(default=None, sa_column=Column(JSON))
    # The grid's corners TL TR BR BL placed by the student (page pixels); the extraction then uses them.
    manual_corners: list | None = Field(default=None, sa_column=Column(JSON))
    # The page number printed in the version 2 sheet's code (verified), once routed or extracted; None otherwise.
    sheet_page: int | None = None
    kept_count: int = 0
    blank_count: int = 0
    rejected_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    extracted_at: datetime | None = None
