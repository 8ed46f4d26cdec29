"""Projects and the single rule of who may touch one."""

from sqlalchemy import func
from sqlmodel import Session, select

from digitlab.api.errors import conflict, not_found
from digitlab.auth.models import User
from digitlab.core.models import utcnow
from digitlab.core.storage import FileStorage
from digitlab.datasets.models import Cell
from digitlab.projects.models import Project
from digitlab.projects.schemas import ProjectCreate, ProjectPublic, ProjectUpdate
from digitlab.scans.models import Scan


def can_access(user: User, project: Project) -> bool:
    # The one place that decides access; teachers of a class will be let in here later.
    return project.owner_id == user.id


def get_project(session: Session, user: User, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None or not can_access(user, project):
        raise not_found("Project")
    return project


def files_prefix(project_id: int) -> str:
    return f"projects/{project_id}"


def create_project(session: Session, user: User, body: ProjectCreate) -> Project:
    project = Project(owner_id=user.id, name=body.name, labels=body.labels)
    session.add(project)
    session.commit()
    session.refresh(project)
    return project


def list_projects(session: Session, user: User) -> list[Project]:
    return list(session.exec(select(Project).where(Project.owner_id == user.id).order_by(Project.id)))


def to_public(session: Session, project: Project) -> ProjectPublic:
    scans = session.exec(select(func.count()).select_from(Scan).where(Scan.project_id == project.id)).one()
    samples = session.exec(select(func.count()).select_from(Cell)
                           .where(Cell.project_id == project.id, Cell.included)).one()
    return ProjectPublic(**project.model_dump(), scan_count=scans, sample_count=samples)


def update_project(session: Session, project: Project, body: ProjectUpdate) -> Project:
    if body.labels is not None and body.labels != project.labels:
        has_cells = session.exec(select(Cell.id).where(Cell.project_id == project.id).limit(1)).first()
        if has_cells is not None:
            raise conflict("The labels cannot change once the project has samples; relabel single samples "
                           "in the dataset instead.", "labels_locked")
        project.labels = body.labels
    if body.name is not None:
        project.name = body.name
    project.updated_at = utcnow()
    session.add(project)
    session.commit()
    session.refresh(project)
    return project


def delete_project(session: Session, storage: FileStorage, project: Project) -> None:
    project_id = project.id
    session.delete(project)
    session.commit()
    storage.delete_tree(files_prefix(project_id))
