from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class StuckCode(StrEnum):
    """Where a student is stuck, as a stable word for programs (the screens translate it)."""

    NO_PROJECT = "no_project"  # no project at all
    NO_SCANS = "no_scans"  # no pages uploaded (and no samples imported)
    FAILED_PAGE = "failed_page"  # a page could not be read (no grid found ...)
    FAILED_EXTRACTION = "failed_extraction"  # the latest extraction failed as a whole (e.g. its worker stopped)
    NOT_EXTRACTED = "not_extracted"  # pages uploaded, never extracted, no samples yet
    NO_SAMPLES = "no_samples"  # pages extracted, but no sample kept
    FAILED_TRAINING = "failed_training"  # the latest training failed
    NO_TRAINING = "no_training"  # samples to train on, but no training yet


class Stuck(BaseModel):
    code: StuckCode
    sentence: str = Field(description="A short sentence for the teacher (English; screens translate by `code`)")
    error_code: str | None = Field(
        default=None,
        description="failed_training: why the training failed, as a code (one of shared/schemas/error-codes.json)",
    )
    error_params: dict | None = Field(default=None, description="The numbers in that reason, by name")


class RosterProject(BaseModel):
    id: int
    name: str


class RosterStudent(BaseModel):
    user_id: int
    nickname: str
    writer_number: int | None = Field(description='"writer N" to the other students of the class')
    pages_uploaded: int
    samples_kept: int = Field(description="Samples in the student's data sets (included cells)")
    trainings: int
    best_test_accuracy: float | None = Field(description="0..1, of the student's trainings that finished")
    last_activity: datetime | None = Field(
        description="Latest project change (a sample edited too), page upload or extraction, import, job or training"
    )
    working: bool = Field(description="An extraction or training of the student's is queued or running")
    stuck: Stuck | None = Field(description="Where the student is stuck; null while they get on")
    projects: list[RosterProject] = Field(description="The student's projects, which the teacher may open read-only")


class RosterPublic(BaseModel):
    """A class's students and how far each one got. The roster WebSocket sends this same object."""

    class_id: int
    class_name: str
    students: list[RosterStudent]
