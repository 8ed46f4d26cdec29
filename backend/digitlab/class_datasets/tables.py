"""A class's handwriting as a data set: a snapshot of the samples of its students, each kept with its writer.

The samples are copies (label and image as they were when the teacher built the data set), so a student's later
edits do not change it silently; the teacher rebuilds it to take them in. Deletion is different: a sample goes
with its cell (a deleted scan or project) and with its writer's membership (a student removed from the class, an
account deleted), so what a student deletes never lives on in the class's data set.

Students know the writers only as "writer N" (ClassMember.writer_number); the membership behind a sample, and so
the nickname, is only ever shown to the class's teachers.
"""

from datetime import datetime

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class ClassDataset(SQLModel, table=True):
    """The data set of one class (one per class; rebuilding replaces its samples and counts `version` up)."""

    __tablename__ = "class_datasets"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="classes.id", unique=True, ondelete="CASCADE")
    labels: list[str] = Field(sa_column=Column(JSON, nullable=False))  # the ten labels samples are pooled by
    # The projects left out, and why: [{"project_id", "owner_id", "reason"}] (shown to teachers only).
    skipped: list = Field(sa_column=Column(JSON, nullable=False))
    version: int = 1
    built_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    built_at: datetime = Field(default_factory=utcnow)


class ClassSample(SQLModel, table=True):
    __tablename__ = "class_samples"
    __table_args__ = (Index("ix_class_samples_dataset_label", "dataset_id", "label"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    dataset_id: int = Field(foreign_key="class_datasets.id", index=True, ondelete="CASCADE")
    # The writer: their membership of the class (goes when they leave it) and its pseudonymous number.
    member_id: int = Field(foreign_key="class_members.id", index=True, ondelete="CASCADE")
    writer_number: int
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    cell_id: int = Field(foreign_key="cells.id", index=True, ondelete="CASCADE")
    label: str = Field(max_length=16)
    image: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # 784 bytes, uint8 28x28, ink = 255


class OtherWritersEvaluation(SQLModel, table=True):
    """A training tested on the class data set's samples of everyone but the student who trained it. The
    result names writers by number only; teachers get the nicknames added when they read it."""

    __tablename__ = "other_writers_evaluations"
    __table_args__ = (UniqueConstraint("class_id", "training_id"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="classes.id", index=True, ondelete="CASCADE")
    training_id: int = Field(foreign_key="trainings.id", index=True, ondelete="CASCADE")
    job_id: int = Field(foreign_key="jobs.id", index=True, ondelete="CASCADE")
    dataset_version: int  # of the class data set it was (or is being) computed on
    result: dict | None = Field(default=None, sa_column=Column(JSON))
    requested_at: datetime = Field(default_factory=utcnow)
