from typing import Annotated

from pydantic import Field

from digitlab.core.schemas import RequestBody

ScanId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ExtractionCreate(RequestBody):
    scan_ids: list[ScanId] | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Scans to extract; all scans of the project when omitted (or when there is no body at all)",
    )
