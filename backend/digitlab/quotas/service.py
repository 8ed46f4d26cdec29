"""Storage quotas and the disk: what may still be stored, checked before anything is stored.

Every limit that applies to a user is a `Limit` from `limits_for`: the user's own quota
(settings.user_quota_bytes) and, for each class the user is a student of, the class's quota
(settings.class_quota_bytes) over what all its students' projects hold. `ensure_room` refuses whichever is
exceeded, naming its scope.

Usage counts what projects hold: their files (originals, rendered pages, thumbnails, previews, trained
networks) and their samples in the database.
"""

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
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
    scope: str  # "user" or "class"
    limit_bytes: int
    used_bytes: int
    class_name: str | None = None  # the class's, for scope "class"


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


def class_usage_bytes(session: Session, storage: FileStorage, class_id: int) -> int:
    """What the projects of all the class's students hold."""
    students = select(ClassMember.user_id).where(
        ClassMember.class_id == class_id, ClassMember.role == ClassRole.STUDENT
    )
    project_ids = [
        pid for pid in session.exec(select(Project.id).where(col(Project.owner_id).in_(students))) if pid is not None
    ]
    return projects_usage_bytes(session, storage, project_ids)


def limits_for(session: Session, storage: FileStorage, settings: Settings, user_id: int) -> list[Limit]:
    """Every storage limit that applies to what this user stores: their own, and each of their classes'."""
    limits = []
    if settings.user_quota_bytes:
        limits.append(Limit("user", settings.user_quota_bytes, user_usage_bytes(session, storage, user_id)))
    if settings.class_quota_bytes:
        classes = session.exec(
            select(SchoolClass.id, SchoolClass.name)
            .join(ClassMember, col(ClassMember.class_id) == col(SchoolClass.id))
            .where(ClassMember.user_id == user_id, ClassMember.role == ClassRole.STUDENT)
            .order_by(col(SchoolClass.id))
        ).all()
        for class_id, name in classes:
            assert class_id is not None  # rows read from the table have their id
            used = class_usage_bytes(session, storage, class_id)
            limits.append(Limit("class", settings.class_quota_bytes, used, class_name=name))
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
    """Refuse (413 quota_exceeded or class_quota_exceeded, or 507 for the server's disk) before storing
    `adding_bytes` for this user."""
    for limit in limits_for(session, storage, settings, user_id):
        if limit.used_bytes + adding_bytes <= limit.limit_bytes:
            continue
        sizes = {"limit_bytes": limit.limit_bytes, "used_bytes": limit.used_bytes, "needed_bytes": adding_bytes}
        usage = f"{_mb(limit.used_bytes)} of the {_mb(limit.limit_bytes)} allowed"
        if limit.scope == "class":
            raise DomainError(
                ErrorKind.QUOTA_EXCEEDED,
                f"This would need {_mb(adding_bytes)} more, but the projects of your class '{limit.class_name}' "
                f"already use {usage}. Delete scans or projects you no longer need, or ask your teacher.",
                "class_quota_exceeded",
                scope=limit.scope,
                class_name=limit.class_name,
                **sizes,
            )
        raise DomainError(
            ErrorKind.QUOTA_EXCEEDED,
            f"This would need {_mb(adding_bytes)} more, but your projects already use {usage}. Delete scans or "
            "projects you no longer need, or upload fewer files.",
            "quota_exceeded",
            scope=limit.scope,
            **sizes,
        )
    ensure_disk(settings, storage, adding_bytes)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
