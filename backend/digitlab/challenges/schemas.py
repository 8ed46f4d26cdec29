from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from digitlab.class_datasets.schemas import LabelTally, RowId
from digitlab.core.schemas import RequestBody
from digitlab.jobs.schemas import JobErrorCode, JobErrorParams

MAX_SHEETS = 20


class ChallengeSet(RequestBody):
    """The sheets (scans) whose samples become the class's hidden test set."""

    scan_ids: list[RowId] = Field(
        min_length=1,
        max_length=MAX_SHEETS,
        description="Scans of the teacher's own projects or of the class's students' projects, all with the same "
        "labels (in any order)",
    )


class ChallengeSheetPublic(BaseModel):
    scan_id: int
    project_id: int
    project_name: str
    owner: str = Field(description="Nickname of the project's owner (the teacher or a student)")
    filename: str
    page_index: int
    samples: int


class ChallengePublic(BaseModel):
    class_id: int
    labels: list[str]
    created_at: datetime
    sample_count: int
    scored_trainings: int = Field(description="Trainings with a score so far")
    per_label: list[LabelTally] | None = Field(description="Teachers only (null for students)")
    sheets: list[ChallengeSheetPublic] | None = Field(description="Teachers only (null for students)")


class ChallengeSamplePublic(BaseModel):
    scan_id: int
    label: str
    image: str = Field(description="data: URL of the 28x28 PNG (dark ink on white)")


class ChallengeSamplePage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[ChallengeSamplePublic]


class LeaderboardEntry(BaseModel):
    """A student's best score."""

    rank: int = Field(description="1 for the best score; equal scores share a rank")
    nickname: str
    you: bool = Field(description="The entry is the user asking")
    architecture: str = Field(description="mlp | cnn | custom")
    total_params: int
    score: float = Field(ge=0, le=1, description="Accuracy on the challenge's samples")
    correct: int
    count: int
    scored_at: datetime
    training_id: int | None = Field(description="Teachers and the student themselves only")
    project_id: int | None = Field(description="Teachers and the student themselves only")


class LeaderboardPublic(BaseModel):
    class_id: int
    labels: list[str]
    sample_count: int
    entries: list[LeaderboardEntry]


ScoreStatus = Literal["not_scored", "queued", "running", "scored", "failed", "cancelled"]


class ChallengeScorePublic(BaseModel):
    class_id: int
    training_id: int
    status: ScoreStatus = Field(description="`scored` once the score is there; `queued`/`running` while its job is")
    error: str | None
    error_code: JobErrorCode = None
    error_params: JobErrorParams = None
    score: float | None = Field(ge=0, le=1)
    correct: int | None
    count: int | None
    scored_at: datetime | None
