from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field

from digitlab.core.schemas import RequestBody
from digitlab.jobs.schemas import JobPublic
from digitlab.scans.schemas import ScanPublic


class PageOutcome(StrEnum):
    ROUTED = "routed"  # stored as a scan of its student's project, extraction started
    UNASSIGNED = "unassigned"  # waiting in the class's tray for a teacher
    ALREADY_STORED = "already_stored"  # this very page is already in that project or in the tray: not stored twice


class BulkPage(BaseModel):
    """What happened to one page of a bulk upload."""

    filename: str
    page_index: int = Field(description="The page within its file, 0-based")
    outcome: PageOutcome
    problem: str | None = Field(description="Why it was not routed, as a word (e.g. `no_code`, `forged_code`)")
    reason: str | None = Field(description="The same as a sentence for the teacher")
    student: str | None = Field(description="The student's nickname, when routed")
    project_id: int | None
    project_name: str | None
    sheet_page: int | None = Field(description="The page number in the sheet's verified code")
    scan_id: int | None
    job_id: int | None = Field(description="The extraction job of the student's project")
    unassigned_page_id: int | None


class BulkScanResult(BaseModel):
    pages: list[BulkPage]
    routed: int
    unassigned: int
    already_stored: int


class UnassignedPagePublic(BaseModel):
    id: int
    class_id: int
    filename: str
    page_index: int
    problem: str
    reason: str
    sheet_page: int | None = Field(description="The page number when the page had a valid code (of another project)")
    width: int
    height: int
    created_at: datetime
    thumbnail_url: str
    preview_url: str


class ScanTarget(BaseModel):
    """A project a page of this class may be assigned to: one of a student's own projects."""

    project_id: int
    project_name: str
    student_id: int
    student: str


ProjectId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class AssignPage(RequestBody):
    project_id: ProjectId = Field(description="A project of a student of this class (see .../bulk-scans/targets)")


class AssignedPage(BaseModel):
    scan: ScanPublic
    job: JobPublic
