from datetime import datetime

from pydantic import BaseModel


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
    status: str
    error: str | None
    corners: list | None
    kept_count: int
    blank_count: int
    rejected_count: int
    created_at: datetime
    extracted_at: datetime | None
    original_url: str
    thumbnail_url: str
    preview_url: str | None
