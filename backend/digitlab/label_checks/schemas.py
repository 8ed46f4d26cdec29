from datetime import datetime

from pydantic import BaseModel, Field

from digitlab.jobs.schemas import JobErrorCode, JobErrorParams
from digitlab.jobs.tables import JobStatus


class LabelCheckPublic(BaseModel):
    id: int
    project_id: int
    job_id: int
    status: JobStatus
    progress: float
    error: str | None
    error_code: JobErrorCode = None
    error_params: JobErrorParams = None
    settings: dict = Field(description="folds: networks trained, each on all folds but one; epochs: of each")
    samples: int = Field(description="Samples scored (the project's included samples when the check ran)")
    issues: int = Field(description="Of them likely mislabelled (cleanlab's confident learning)")
    agreement: float | None = Field(description="How often the out-of-fold networks read a sample's own label")
    created_at: datetime
    finished_at: datetime | None


class SampleScorePublic(BaseModel):
    cell_id: int
    quality: float = Field(
        description="How well the label fits, 0..1: the probability a network that never trained on the sample "
        "gives its label (low = suspicious)"
    )
    suggested: str = Field(description="The label that network reads")
    issue: bool = Field(description="Likely mislabelled (cleanlab's confident learning)")
