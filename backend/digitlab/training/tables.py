from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class Training(SQLModel, table=True):
    """One training run of a project: its settings, its network, and when finished its figures."""

    __tablename__ = "trainings"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    owner_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    job_id: int = Field(foreign_key="jobs.id", index=True, ondelete="CASCADE")
    architecture: str = Field(max_length=16)  # mlp | cnn | custom
    activation: str = Field(max_length=16)
    layers: list = Field(sa_column=Column(JSON, nullable=False))  # the whole network, output layer included
    summary: dict = Field(sa_column=Column(JSON, nullable=False))  # layer names, shapes, parameters
    settings: dict = Field(sa_column=Column(JSON, nullable=False))  # epochs, batch size, split, seed ...
    labels: list = Field(sa_column=Column(JSON, nullable=False))  # the project's labels when it was trained
    dataset: dict | None = Field(default=None, sa_column=Column(JSON))  # samples per label and part
    epochs_run: int = 0
    stopped: str | None = Field(default=None, max_length=16)  # completed | early_stopping | cancelled
    test_loss: float | None = None
    test_accuracy: float | None = None
    evaluation: dict | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class TrainingEvent(SQLModel, table=True):
    """A message of a training's live stream, kept so late joiners and polling clients get it all."""

    __tablename__ = "training_events"
    __table_args__ = (UniqueConstraint("training_id", "seq"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    training_id: int = Field(foreign_key="trainings.id", index=True, ondelete="CASCADE")
    seq: int
    type: str = Field(max_length=16)
    data: dict = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
