"""Storage quotas and the disk: what may still be stored, checked before anything is stored.

Every limit that applies to a user is a `Limit` from `limits_for`: today the user's own quota
(settings.user_quota_bytes). A class's quota plugs in there as one more Limit (the class's limit and what all
its members' projects hold), and `ensure_room` then refuses whichever is exceeded, naming its scope.

Usage counts what a user's projects hold: their files (originals, rendered pages, thumbnails, previews,
trained networks) and their samples in the database.
"""

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from digitlab.core.config import Settings
from digitlab.core.contract import SAMPLE_PIXELS
from digitlab.core.errors import DomainError, ErrorKind
from digitlab.core.storage import FileStorage, free_bytes
from digitlab.datasets.tables import Cell
from digitlab.projects import service as projects_service
from digitlab.projects.tables import Project

CELL_BYTES = SAMPLE_PIXELS  # one sample's image in the database (uint8 pixels)


@dataclass(frozen=True)
class Limit:
    scope: str  # "user" (later also "class")
    limit_bytes: int
    used_bytes: int


@dataclass(frozen=True)
class DiskStatus:
    free_bytes: int
    min_free_bytes: int

    @property
    def low(self) -> bool:
        return self.free_bytes < self.min_free_bytes


def projects_usage_bytes(session: Session, storage: FileStorage, project_ids: list[int]) -> int:
    files = sum(storage.tree_bytes(projects_service.files_prefix(project_id)) for project_id in project_ids)
    if not project_ids:
        return files
    cells = session.exec(select(func.count()).select_from(Cell).where(col(Cell.project_id).in_(project_ids))).one()
    return files + cells * CELL_BYTES


def user_usage_bytes(session: Session, storage: FileStorage, user_id: int) -> int:
    project_ids = [
        pid for pid in session.exec(select(Project.id).where(Project.owner_id == user_id)) if pid is not None
    ]
    return projects_usage_bytes(session, storage, project_ids)


def limits_for(session: Session, storage: FileStorage, settings: Settings, user_id: int) -> list[Limit]:
    """Every storage limit that applies to what this user stores (a class's limit will be added here)."""
    limits = []
    if settings.user_quota_bytes:
        limits.append(Limit("user", settings.user_quota_bytes, user_usage_bytes(session, storage, user_id)))
    return limits


def disk_status(settings: Settings, storage: FileStorage) -> DiskStatus:
    return DiskStatus(free_bytes(storage.root), settings.min_free_disk_bytes)


def ensure_disk(settings: Settings, storage: FileStorage, adding_bytes: int = 0) -> None:
    """507 when storing `adding_bytes` would leave the server's disk with less than its margin."""
    status = disk_status(settings, storage)
    if status.free_bytes - adding_bytes < status.min_free_bytes:
        raise DomainError(
            ErrorKind.INSUFFICIENT_STORAGE,
            "The server's disk is almost full, so nothing new can be stored right now. Please tell "
            "your teacher; deleting scans or projects you no longer need frees space.",
            "insufficient_storage",
        )


def ensure_room(session: Session, storage: FileStorage, settings: Settings, user_id: int, adding_bytes: int) -> None:
    """Refuse (413 quota_exceeded, or 507 for the server's disk) before storing `adding_bytes` for this user."""
    for limit in limits_for(session, storage, settings, user_id):
        if limit.used_bytes + adding_bytes > limit.limit_bytes:
            whose = "your projects" if limit.scope == "user" else f"your {limit.scope}"
            raise DomainError(
                ErrorKind.QUOTA_EXCEEDED,
                f"This would need {_mb(adding_bytes)} more, but {whose} already use {_mb(limit.used_bytes)} of "
                f"the {_mb(limit.limit_bytes)} allowed. Delete scans or projects you no longer need, or upload "
                "fewer files.",
                "quota_exceeded",
                scope=limit.scope,
                limit_bytes=limit.limit_bytes,
                used_bytes=limit.used_bytes,
                needed_bytes=adding_bytes,
            )
    ensure_disk(settings, storage, adding_bytes)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
