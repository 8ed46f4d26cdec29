"""Storage limitation (GDPR article 5(1)(e)): the service deletes what it no longer needs, by itself.

Every `retention_sweep_seconds` the API process (in both job backends: the embedded runner and Celery run the
same API process, so one sweeper serves both) deletes:
- the data of every class past its `delete_after`, exactly as when a teacher deletes the class
  (digitlab.classes.service.delete_class): the class, its memberships, join codes, data set and challenge (they
  cascade from it), and the accounts made for it with all their data; students who registered themselves keep
  their accounts and own projects;
- login tokens that can never be used again (expired or logged-out sessions, revoked API tokens);
- files left behind by deleted projects and classes (a job that was still writing when its project's account
  was deleted; the unassigned pages of a class deleted by a teacher).

Each class is deleted in its own unit of work, so one that fails (logged) does not keep the others. Several API
replicas may sweep at once: every deletion is a plain DELETE of whatever is still there, so they cannot clash.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, or_
from sqlmodel import Session, SQLModel, col, select

from digitlab.auth.tables import AuthToken
from digitlab.classes import service as classes_service
from digitlab.classes.tables import SchoolClass
from digitlab.core.clock import utcnow
from digitlab.core.config import Settings
from digitlab.core.db import unit_of_work
from digitlab.core.storage import FileStorage
from digitlab.jobs.heartbeat import Heartbeat
from digitlab.jobs.runner import JobRunner
from digitlab.projects.tables import Project

log = logging.getLogger(__name__)

# The top folders of the file store whose subfolders belong to one row each (projects/<id>/: its scans, previews
# and networks, digitlab.projects.service.files_prefix; classes/<id>/: its unassigned pages,
# digitlab.class_scans.service.files_prefix).
FOLDERS_OF: dict[str, type[SQLModel]] = {"projects": Project, "classes": SchoolClass}
# A folder without its row is only removed once it has been left alone this long: a job that was still writing
# into it when its project went has finished by then (and a later write is swept next time).
LEFTOVER_AGE_SECONDS = 600.0


@dataclass
class SweepReport:
    classes: int = 0  # classes whose data was deleted
    tokens: int = 0
    leftover_folders: int = 0


def delete_expired_classes(engine: Engine, storage: FileStorage, runner: JobRunner, now: datetime | None = None) -> int:
    """Delete every class whose delete_after has passed; how many were deleted."""
    now = now or utcnow()
    with Session(engine) as session:
        expired = [i for i in session.exec(select(SchoolClass.id).where(col(SchoolClass.delete_after) <= now)) if i]
    deleted = 0
    for class_id in expired:
        try:
            with unit_of_work(engine) as session:
                school_class = session.get(SchoolClass, class_id)
                if school_class is None:  # deleted meanwhile (a teacher, another replica's sweep)
                    continue
                classes_service.delete_class(session, storage, runner, school_class)
            deleted += 1
            log.info("retention: deleted the data of class %s", class_id)
        except Exception:
            log.exception("retention: could not delete the data of class %s", class_id)
    return deleted


def delete_ended_tokens(engine: Engine, now: datetime | None = None) -> int:
    """Tokens that no request can use any more (expired, logged out, revoked) are not kept."""
    now = now or utcnow()
    with unit_of_work(engine) as session:
        result = session.exec(
            delete(AuthToken).where(or_(col(AuthToken.revoked_at).is_not(None), col(AuthToken.expires_at) <= now))
        )
        return result.rowcount or 0


def remove_leftover_files(
    engine: Engine, storage: FileStorage, older_than_seconds: float = LEFTOVER_AGE_SECONDS
) -> int:
    """Remove the folders of projects and classes that no longer exist (ids are never reused, so such a folder
    can only be left from a deleted one); returns how many went."""
    removed = 0
    for folder_name, table in FOLDERS_OF.items():
        leftovers = _folders_without_row(engine, storage, folder_name, table, older_than_seconds)
        for row_id in leftovers:
            storage.delete_tree(f"{folder_name}/{row_id}")
        if leftovers:
            log.info("retention: removed the files of %s deleted %s", len(leftovers), folder_name)
        removed += len(leftovers)
    return removed


def _folders_without_row(
    engine: Engine, storage: FileStorage, folder_name: str, table: type[SQLModel], older_than_seconds: float
) -> list[int]:
    root = storage.path(folder_name)
    if not root.is_dir():
        return []
    deadline = time.time() - older_than_seconds
    ids = []
    for folder in root.iterdir():
        try:
            if folder.name.isdigit() and folder.is_dir() and folder.stat().st_mtime < deadline:
                ids.append(int(folder.name))
        except FileNotFoundError:
            continue
    key = table.__table__.c.id  # type: ignore[attr-defined]
    existing: set[int] = set()
    with Session(engine) as session:
        for start in range(0, len(ids), 500):
            existing |= set(session.exec(select(key).where(key.in_(ids[start : start + 500]))).all())
    return [row_id for row_id in sorted(ids) if row_id not in existing]


def sweep(engine: Engine, storage: FileStorage, runner: JobRunner) -> SweepReport:
    """One round of everything above (what the sweeper runs periodically; tests call it directly)."""
    return SweepReport(
        classes=delete_expired_classes(engine, storage, runner),
        tokens=delete_ended_tokens(engine),
        leftover_folders=remove_leftover_files(engine, storage),
    )


def retention_sweeper(settings: Settings, engine: Engine, storage: FileStorage, runner: JobRunner) -> Heartbeat:
    """A thread of the API process that runs `sweep` at start and then every settings.retention_sweep_seconds
    until stopped (a failed round is logged and tried again next time)."""

    def one_round() -> None:
        sweep(engine, storage, runner)

    return Heartbeat(settings.retention_sweep_seconds, one_round, "digitlab-retention-sweep")
