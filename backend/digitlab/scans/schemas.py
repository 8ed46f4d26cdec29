from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from digitlab.core.schemas import RequestBody
from digitlab.scans.tables import ScanStatus


class ScanPublic(BaseModel):
    id: int
    project_id: int
    filename: str
    media_type: str
    size_bytes: int
    sha256: str
    page_index: int
    page_count: int
    width: int
    height: int
    status: ScanStatus
    error: str | None
    error_code: str | None = Field(
        default=None, description="Why the page failed, as a code (one of shared/schemas/error-codes.json)"
    )
    error_params: dict | None = Field(default=None, description="The numbers in that reason, by name")
    corners: list | None
    manual_corners: list | None = Field(
        default=None, description="The grid's corners TL TR BR BL placed by hand (page pixels); extraction uses them"
    )
    sheet_page: int | None = Field(
        default=None, description="The sheet's page number from its printed code (version 2 sheets), once known"
    )
    kept_count: int
    blank_count: int
    rejected_count: int
    created_at: datetime
    extracted_at: datetime | None
    original_url: str
    thumbnail_url: str
    preview_url: str | None


class ScanCorners(RequestBody):
    """The grid's four outer corners placed by hand, in the page's pixels (ScanPublic.width x height); null to
    let the extraction search for the grid again."""

    corners: list[Annotated[list[float], Field(min_length=2, max_length=2)]] | None = Field(
        min_length=4, max_length=4, description="Top-left, top-right, bottom-right, bottom-left, each [x, y]"
    )
