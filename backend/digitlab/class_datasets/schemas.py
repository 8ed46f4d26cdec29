from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from digitlab.core.schemas import RequestBody
from digitlab.jobs.schemas import JobErrorCode, JobErrorParams
from digitlab.jobs.tables import JobStatus
from digitlab.projects.schemas import Labels

# An id a client sends in a body: positive and within the database's integers (else it simply does not exist).
RowId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ClassDatasetBuild(RequestBody):
    """What the class data set is built from. Samples are pooled by label text: projects whose ten labels are
    not the data set's (in any order) are left out and listed in `skipped`."""

    student_ids: list[RowId] | None = Field(
        default=None, max_length=500, description="The students (user ids) whose samples go in; null: all"
    )
    project_ids: list[RowId] | None = Field(
        default=None,
        max_length=500,
        description="Only these projects of the chosen students; null: every project of theirs",
    )
    labels: Labels | None = Field(
        default=None,
        description="The data set's labels; null: the label set most of the chosen projects with samples use",
    )


class LabelTally(BaseModel):
    label: str
    samples: int


class WriterTally(BaseModel):
    writer_number: int = Field(description='Shown to students as "writer N"')
    nickname: str | None = Field(description="Teachers only (null for students)")
    you: bool = Field(description="The writer is the user asking")
    samples: int


class StudentProject(BaseModel):
    project_id: int
    project_name: str
    user_id: int
    nickname: str
    labels: list[str]


class DatasetSource(StudentProject):
    """A project whose samples are in the data set (teachers only)."""

    writer_number: int
    samples: int


class SkippedProject(StudentProject):
    """A chosen project left out of the data set (teachers only)."""

    reason: str = Field(description="`different_labels`: its labels are not the data set's")


class ClassDatasetPublic(BaseModel):
    class_id: int
    version: int = Field(description="Counts up with every rebuild")
    built_at: datetime
    labels: list[str]
    total: int
    per_label: list[LabelTally]
    per_writer: list[WriterTally]
    sources: list[DatasetSource] | None = Field(description="Teachers only (null for students)")
    skipped: list[SkippedProject] | None = Field(description="Teachers only (null for students)")


class ClassSamplePublic(BaseModel):
    label: str
    image: str = Field(description="data: URL of the 28x28 PNG (dark ink on white)")
    writer_number: int | None = Field(description="Teachers only: students see anonymous images")
    nickname: str | None = Field(description="Teachers only")


class ClassSamplePage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[ClassSamplePublic]


class LabelScore(BaseModel):
    label: str
    count: int
    correct: int
    accuracy: float | None = Field(description="null when there is no sample of the label")


class WriterScore(BaseModel):
    writer_number: int
    nickname: str | None = Field(description="Teachers only (null for students)")
    count: int
    correct: int
    accuracy: float
    per_label: list[LabelScore]


class WeakSpot(BaseModel):
    """A writer's label the network reads worst ("your network reads writer 3's sevens badly")."""

    writer_number: int
    nickname: str | None = Field(description="Teachers only")
    label: str
    count: int
    correct: int
    accuracy: float


class OtherWritersPublic(BaseModel):
    """A training tested on the class data set's samples of every writer but the student who trained it."""

    class_id: int
    training_id: int
    trained_by: str | None = Field(description="The student's nickname (teachers only)")
    status: JobStatus = Field(description="Of the evaluation's job; the figures are there once it succeeded")
    job_id: int
    error: str | None
    error_code: JobErrorCode = None
    error_params: JobErrorParams = None
    requested_at: datetime
    dataset_version: int = Field(description="The class data set's version it was computed on")
    stale: bool = Field(description="The class data set was rebuilt since: ask again for current figures")
    labels: list[str] = Field(description="The network's labels")
    own_test_accuracy: float | None = Field(description="On the student's own test split")
    accuracy: float | None = Field(description="On the other writers' samples")
    gap: float | None = Field(description="own_test_accuracy - accuracy: what changes for handwriting it never saw")
    count: int | None
    correct: int | None
    skipped: int | None = Field(description="Samples of labels the network does not know (not counted)")
    per_label: list[LabelScore] | None
    per_writer: list[WriterScore] | None
    weakest: list[WeakSpot] | None = Field(description="Up to three (writer, label) pairs it reads worst")
