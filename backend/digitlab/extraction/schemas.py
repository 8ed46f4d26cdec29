from pydantic import BaseModel, Field


class ExtractionCreate(BaseModel):
    scan_ids: list[int] | None = Field(default=None, min_length=1, max_length=500,
                                       description="Scans to extract; all scans of the project when omitted")
