from typing import Literal

from pydantic import BaseModel, Field

from digitlab.core.schemas import RequestBody
from digitlab.core.text import SafeStr
from digitlab.pipeline.cells import CellStatus


class LabelCount(BaseModel):
    label: str
    index: int
    included: int = Field(description="Samples in the dataset")
    excluded: int = Field(description="Kept by the extraction but excluded by the student")
    rejected: int = Field(description="Rejected by the extraction (specks, scribbles)")


class DatasetSummary(BaseModel):
    project_id: int
    total: int
    labels: list[LabelCount]


class CellPublic(BaseModel):
    id: int
    scan_id: int | None
    source: str
    row: int | None
    col: int | None
    label: str
    original_label: str
    status: CellStatus
    reason: str | None
    included: bool
    image: str | None = Field(description="data: URL of the 28x28 PNG (dark ink on white), null for blank cells")


class CellPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[CellPublic]


class CellUpdate(RequestBody):
    included: bool | None = None
    label: SafeStr | None = Field(default=None, max_length=16)


class ImportResult(BaseModel):
    imported: int
    per_label: dict[str, int]


CellFilter = Literal["included", "excluded", "rejected", "blank", "all"]
ExportFormat = Literal["npz", "zip"]
