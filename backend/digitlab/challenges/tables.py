"""The class challenge: sheets a teacher marks as a hidden test set, and every class training's score on it.

The marked sheets' samples are copied when the challenge is set (a later relabel cannot move the goalposts) and
are hidden from students: never in a class data set, never in a training (`outside_challenges`), readable only
by the class's teachers. A sample goes with its scan, so a deleted sheet leaves the challenge too.
"""

from datetime import datetime

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint, or_
from sqlmodel import Field, SQLModel, col, select

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE
from digitlab.datasets.tables import Cell


class Challenge(SQLModel, table=True):
    """A class's challenge (one per class; setting it again replaces it, its scores included)."""

    __tablename__ = "challenges"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="classes.id", unique=True, ondelete="CASCADE")
    labels: list[str] = Field(sa_column=Column(JSON, nullable=False))  # the sheets' labels
    created_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow)


class ChallengeSheet(SQLModel, table=True):
    __tablename__ = "challenge_sheets"
    __table_args__ = (UniqueConstraint("challenge_id", "scan_id"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenges.id", index=True, ondelete="CASCADE")
    scan_id: int = Field(foreign_key="scans.id", index=True, ondelete="CASCADE")


class ChallengeSample(SQLModel, table=True):
    __tablename__ = "challenge_samples"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenges.id", index=True, ondelete="CASCADE")
    scan_id: int = Field(foreign_key="scans.id", index=True, ondelete="CASCADE")
    label: str = Field(max_length=16)
    image: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # 784 bytes, uint8 28x28, ink = 255


class ChallengeScore(SQLModel, table=True):
    """One training's score on a challenge: requested (`accuracy` null while its job runs) or scored."""

    __tablename__ = "challenge_scores"
    __table_args__ = (UniqueConstraint("challenge_id", "training_id"), NO_ID_REUSE)

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenges.id", index=True, ondelete="CASCADE")
    training_id: int = Field(foreign_key="trainings.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True, ondelete="CASCADE")  # who trained it
    job_id: int | None = Field(default=None, foreign_key="jobs.id", ondelete="SET NULL")  # null: scored at its end
    accuracy: float | None = None  # the score, 0..1
    correct: int | None = None
    count: int | None = None
    scored_at: datetime | None = None


def outside_challenges():  # a SQL condition on Cell
    """The cell is on no challenge sheet: the only cells trainings and class data sets may use."""
    return or_(col(Cell.scan_id).is_(None), col(Cell.scan_id).not_in(select(ChallengeSheet.scan_id)))
