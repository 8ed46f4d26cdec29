"""The unassigned tray: pages of a teacher's bulk upload that could not be routed to a student by their code."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from digitlab.core.clock import utcnow
from digitlab.core.db import NO_ID_REUSE


class UnassignedPage(SQLModel, table=True):
    """One page waiting in a class's tray until a teacher assigns it to a student's project or discards it.
    Its files (page.png, preview.jpg, thumbnail.jpg) live under classes/<class id>/unassigned/<id>/."""

    __tablename__ = "unassigned_pages"
    __table_args__ = NO_ID_REUSE

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="classes.id", index=True, ondelete="CASCADE")
    uploaded_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    filename: str = Field(max_length=255)  # the uploaded file's name, shown to people only
    page_index: int = 0  # the page within that file, 0-based
    problem: str = Field(max_length=32)  # why it was not routed: a machine word (class_scans.service.PROBLEMS)
    reason: str  # the same in a sentence for the teacher
    # What a verified code on the page said (a project outside this class, or a deleted one): assigning the page
    # elsewhere is refused, so it cannot end up with the wrong student. None when the page has no valid code.
    code_project_id: int | None = None
    sheet_page: int | None = None
    sha256: str = Field(max_length=64)  # of page.png
    width: int
    height: int
    size_bytes: int  # of its files together
    created_at: datetime = Field(default_factory=utcnow)
