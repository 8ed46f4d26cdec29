from datetime import datetime

from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class Cell(SQLModel, table=True):
    """One sample: a cell cut from a scan, or an imported image. The 28x28 image lives in the row."""

    __tablename__ = "cells"
    __table_args__ = (
        Index("ix_cells_project_label", "project_id", "label"),
        UniqueConstraint("scan_id", "row", "col"),
        NO_ID_REUSE,
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    scan_id: int | None = Field(default=None, foreign_key="scans.id", index=True, ondelete="CASCADE")
    source: str = Field(default="scan", max_length=16)  # scan | import
    row: int | None = None
    col: int | None = None
    label: str = Field(max_length=16)  # current label (a student may relabel)
    original_label: str = Field(max_length=16)
    status: str = Field(max_length=16)  # kept | blank | rejected (the extraction's decision)
    reason: str | None = Field(default=None, max_length=32)
    # In the dataset? Starts as status == "kept"; the student may exclude a kept cell or include a
    # rejected one (blank cells have no image and cannot be included).
    included: bool = Field(default=False, index=True)
    image: bytes | None = Field(default=None, sa_column=Column(LargeBinary))  # 784 bytes, uint8 28x28


class DatasetImport(SQLModel, table=True):
    """One imported data set file, known by the hash of its samples: the same data set is imported once."""

    __tablename__ = "dataset_imports"
    __table_args__ = (UniqueConstraint("project_id", "content_sha256"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    # sha256 of the decoded samples (images and labels in order), not of the file: the same data set saved
    # again, compressed differently or zipped anew, is still the same data set.
    content_sha256: str = Field(max_length=64)
    filename: str = Field(max_length=255)  # shown to the user only
    sample_count: int
    created_at: datetime = Field(default_factory=utcnow)
