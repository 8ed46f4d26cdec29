from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class LabelCheck(SQLModel, table=True):
    """One check of a project's labels by out-of-fold networks; once one has finished, the older ones go."""

    __tablename__ = "label_checks"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    job_id: int = Field(foreign_key="jobs.id", index=True, ondelete="CASCADE")
    settings: dict = Field(sa_column=Column(JSON, nullable=False))  # folds, epochs
    samples: int = 0  # samples scored
    issues: int = 0  # of them likely mislabelled
    agreement: float | None = None  # how often the out-of-fold networks read the sample's label
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class SampleScore(SQLModel, table=True):
    """How well a sample's label fits it, in the eyes of a network that never trained on it."""

    __tablename__ = "sample_scores"
    __table_args__ = (Index("ix_sample_scores_check_label", "check_id", "label", "quality"),)

    check_id: int = Field(foreign_key="label_checks.id", primary_key=True, ondelete="CASCADE")
    cell_id: int = Field(foreign_key="cells.id", primary_key=True, index=True, ondelete="CASCADE")
    label: str = Field(max_length=16)  # the sample's label when it was checked (a later relabel makes it stale)
    quality: float  # cleanlab's label quality in [0, 1]: low = suspicious
    suggested: str = Field(max_length=16)  # what the network reads
    issue: bool = False  # confident learning calls the label wrong
