"""Projects and the single rule of who may touch one."""

from sqlalchemy import func
from sqlmodel import Session, select

from digitlab.auth.tables import User
from digitlab.classes import service as classes_service
from digitlab.core.clock import utcnow
from digitlab.core.db import after_commit, stored_id
from digitlab.core.errors import conflict, not_found
from digitlab.core.paging import FIRST_PAGE, Page
from digitlab.core.storage import FileStorage
from digitlab.datasets.tables import Cell
from digitlab.projects.schemas import ProjectCreate, ProjectPublic, ProjectUpdate
from digitlab.projects.tables import Project
from digitlab.scans.tables import Scan


def can_access(user: User, project: Project) -> bool:
    """Whether `user` may change `project`: only its owner. (Reading: `can_read`.)"""
    return project.owner_id == user.id


def can_read(session: Session, user: User, project: Project) -> bool:
    """Whether `user` may look at `project`: its owner, and the teachers of a class its owner is a student of
    (read-only, to help). The one place that decides read access."""
    return can_access(user, project) or classes_service.teaches_student(session, user, project.owner_id)


def accessible_by(user: User):  # a SQL condition
    """can_access as a query condition, for lists (the two must always agree)."""
    return Project.owner_id == user.id


def get_project(session: Session, user: User, project_id: int) -> Project:
    """The project, for its owner (who may change it); 404 for everyone else."""
    project = session.get(Project, project_id)
    if project is None or not can_access(user, project):
        raise not_found("Project")
    return project


def get_readable_project(session: Session, user: User, project_id: int) -> Project:
    """The project, for whoever may look at it (`can_read`); 404 for everyone else."""
    project = session.get(Project, project_id)
    if project is None or not can_read(session, user, project):
        raise not_found("Project")
    return project


def files_prefix(project_id: int) -> str:
    return f"projects/{project_id}"


def create_project(session: Session, user: User, body: ProjectCreate) -> Project:
    project = Project(owner_id=stored_id(user), name=body.name, labels=body.labels)
    session.add(project)
    session.flush()
    return project


def _with_counts():  # a select of (Project, scan count, sample count)
    scans = (
        select(func.count()).select_from(Scan).where(Scan.project_id == Project.id).correlate(Project).scalar_subquery()
    )
    samples = (
        select(func.count())
        .select_from(Cell)
        .where(Cell.project_id == Project.id, Cell.included)
        .correlate(Project)
        .scalar_subquery()
    )
    return select(Project, scans, samples)


def list_public(session: Session, user: User, page: Page = FIRST_PAGE) -> list[ProjectPublic]:
    """The user's projects with their counts, in one query however many there are."""
    rows = session.exec(page.apply(_with_counts().where(accessible_by(user)).order_by(Project.id))).all()
    return [
        ProjectPublic(**project.model_dump(), scan_count=scans, sample_count=samples)
        for project, scans, samples in rows
    ]


def to_public(session: Session, project: Project) -> ProjectPublic:
    _, scans, samples = session.exec(_with_counts().where(Project.id == project.id)).one()
    return ProjectPublic(**project.model_dump(), scan_count=scans, sample_count=samples)


def update_project(session: Session, project: Project, body: ProjectUpdate) -> Project:
    if body.labels is not None and body.labels != project.labels:
        has_cells = session.exec(select(Cell.id).where(Cell.project_id == project.id).limit(1)).first()
        if has_cells is not None:
            raise conflict(
                "The labels cannot change once the project has samples; relabel single samples in the dataset instead.",
                "labels_locked",
            )
        project.labels = body.labels
    if body.name is not None:
        project.name = body.name
    project.updated_at = utcnow()
    session.add(project)
    session.flush()
    return project


def delete_project(session: Session, storage: FileStorage, project: Project) -> None:
    """The rows now (scans, samples, jobs and trainings go with the project); its files once that is committed,
    so a failed deletion leaves everything as it was."""
    prefix = files_prefix(stored_id(project))
    session.delete(project)
    session.flush()
    after_commit(session, lambda: storage.delete_tree(prefix))
