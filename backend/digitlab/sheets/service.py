"""The server's side of the version 2 sheet's code: the signing key, codes for printing, and what a scanned
page's code means for the project it is in (pipeline.sheet_code is the pure part: format, signature, reading).

A page's code is checked when it is extracted: a page printed for another project is not extracted into this
one, and a page number this project already has extracted (the same sheet printed or uploaded twice) is not
extracted again; both are named to the student. A code that does not verify (made up, altered) routes nothing:
in the student's own project the page is extracted as a page without a code.
"""

import secrets

from sqlmodel import Session, col, func, select

from digitlab.core.db import stored_id
from digitlab.pipeline.sheet import SheetReading
from digitlab.pipeline.sheet_code import MAX_PAGE, SheetCode, SheetCodeRefused, make_sheet_code, verify_sheet_code
from digitlab.projects.sheet_pdf import render_sheet_pdf, render_sheet_pdf_v2
from digitlab.projects.tables import Project
from digitlab.scans.tables import Scan, ScanStatus
from digitlab.sheets.tables import ServerSecret

SHEET_KEY_NAME = "sheet_codes"
MAX_SHEETS = 30  # sheets in one PDF (a student's whole set; each is a page of its own number)


class SheetProblem(Exception):
    """A page whose code says it must not be extracted into the project it is in; `code` is a machine word
    ("wrong_project", "duplicate_page"), str(exc) the sentence for the student."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def new_secret() -> str:
    return secrets.token_hex(32)


def signing_key(session: Session) -> bytes:
    """The key sheet codes are signed with (made by migration 0008; made here if someone removed it)."""
    secret = session.get(ServerSecret, SHEET_KEY_NAME)
    if secret is None:
        secret = ServerSecret(name=SHEET_KEY_NAME, value=new_secret())
        session.add(secret)
        session.flush()
    return bytes.fromhex(secret.value)


def next_sheet_page(session: Session, project: Project) -> int:
    """The page number after the highest this project's scans carry (1 for a project without coded scans)."""
    highest = session.exec(select(func.max(Scan.sheet_page)).where(Scan.project_id == project.id)).one()
    return min((highest or 0) + 1, MAX_PAGE)


def sheet_codes(session: Session, project: Project, first_page: int, count: int) -> list[tuple[int, str]]:
    """(page number, code text) for `count` sheets of the project from `first_page` on."""
    key = signing_key(session)
    last = min(first_page + count - 1, MAX_PAGE)
    return [(page, make_sheet_code(key, stored_id(project), page)) for page in range(first_page, last + 1)]


def sheet_pdf(
    session: Session, project: Project, version: int, lang: str, first_page: int | None, count: int
) -> tuple[bytes, int]:
    """The printable sheet(s) and the first page number: version 2 with `count` signed page codes from
    `first_page` (default: the next page number this project has not seen), or the legacy version 1 grid."""
    if version == 1:
        return render_sheet_pdf(project.labels, title=project.name), 1
    first = first_page or next_sheet_page(session, project)
    codes = sheet_codes(session, project, first, count)
    return render_sheet_pdf_v2(project.labels, codes, title=project.name, lang=lang), first


def verify(session: Session, text: str) -> SheetCode:
    """The project and page a code names; raises pipeline.sheet_code.SheetCodeRefused when the server did not
    sign it."""
    return verify_sheet_code(signing_key(session), text)


def check_page(session: Session, scan: Scan, reading: SheetReading) -> None:
    """Before a page is extracted into its scan's project: raises SheetProblem when its (verified) code says it
    belongs to another project or is a page this project already has; otherwise records its page number."""
    if reading.code is None:
        return
    try:
        code = verify(session, reading.code)
    except SheetCodeRefused:
        return  # routes nothing; the page is the project owner's own upload (or a teacher's choice)
    if code.project_id != scan.project_id:
        scan.sheet_page = None
        raise SheetProblem("wrong_project", _wrong_project_reason(session, scan, code))
    scan.sheet_page = code.page
    session.add(scan)
    earlier = session.exec(
        select(Scan)
        .where(
            Scan.project_id == scan.project_id,
            Scan.sheet_page == code.page,
            Scan.status == ScanStatus.EXTRACTED,
            Scan.id != scan.id,
        )
        .order_by(col(Scan.id))
    ).first()
    if earlier is not None:
        raise SheetProblem(
            "duplicate_page",
            f"This is page {code.page} of this project's sheets, which was already extracted from "
            f"'{earlier.filename}'. A sheet printed or uploaded twice is not extracted twice: print new sheets for "
            "more pages, or delete the other scan to extract this one instead.",
        )


def _wrong_project_reason(session: Session, scan: Scan, code: SheetCode) -> str:
    this = session.get(Project, scan.project_id)
    other = session.get(Project, code.project_id)
    if this is not None and other is not None and other.owner_id == this.owner_id:
        where = f"for your project '{other.name}'"
    else:
        where = "for another project"  # never says whose: it may be another student's
    return (
        f"This sheet (page {code.page}) was printed {where}, so it is not extracted into this one. "
        "Upload it to the project it was printed for."
    )
