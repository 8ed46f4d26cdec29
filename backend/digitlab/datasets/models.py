from sqlalchemy import Index, LargeBinary, UniqueConstraint
from sqlmodel import Column, Field, SQLModel


class Cell(SQLModel, table=True):
    """One sample: a cell cut from a scan, or an imported image. The 28x28 image lives in the row."""

    __tablename__ = "cells"
    __table_args__ = (Index("ix_cells_project_label", "project_id", "label"),
                      UniqueConstraint("scan_id", "row", "col"))

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
    split_hint: str | None = Field(default=None, max_length=8)  # train | test, from an imported mnist.npz
    image: bytes | None = Field(default=None, sa_column=Column(LargeBinary))  # 784 bytes, uint8 28x28
