"""Request dependencies shared by all routers, as Annotated aliases."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from digitlab.auth import service as auth_service
from digitlab.auth.tables import AuthToken, User
from digitlab.classes import service as classes_service
from digitlab.classes.tables import SchoolClass
from digitlab.core.config import Settings
from digitlab.core.db import unit_of_work
from digitlab.core.errors import not_authenticated
from digitlab.core.storage import FileStorage
from digitlab.datasets import service as datasets_service
from digitlab.datasets.tables import Cell
from digitlab.jobs import service as jobs_service
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.tables import Job
from digitlab.projects import service as projects_service
from digitlab.projects.tables import Project
from digitlab.scans import service as scans_service
from digitlab.scans.tables import Scan
from digitlab.training import service as training_service
from digitlab.training.tables import Training


# Why some dependencies are `async def`: FastAPI runs every plain `def` dependency in a worker thread, and in a
# class's burst of clicks each hop waits for the GIL behind the other requests. What does no I/O therefore runs on
# the event loop, and the login is read in one hop (server CPU per small GET: 7.9 -> 6.9 ms).
async def get_session(request: Request) -> AsyncIterator[Session]:
    """One unit of work per request: committed when the endpoint succeeds, rolled back when it raises. Opening a
    session does no I/O (it takes a connection at its first query); the commit or rollback runs in a thread."""
    work = unit_of_work(request.app.state.engine)
    session = work.__enter__()
    try:
        yield session
    except BaseException as exc:
        await run_in_threadpool(work.__exit__, type(exc), exc, exc.__traceback__)
        raise
    await run_in_threadpool(work.__exit__, None, None, None)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_storage(request: Request) -> FileStorage:
    return request.app.state.storage


async def get_runner(request: Request) -> JobRunner:
    return request.app.state.runner


# Ids are positive and fit the database's integer columns; anything else simply does not exist.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]

# scope="function": the commit happens when the endpoint returns, before the answer is sent, so a client never
# sees success for a change that then fails to commit, and its next request sees the change.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StorageDep = Annotated[FileStorage, Depends(get_storage)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]

_bearer = HTTPBearer(auto_error=False, description="A session token from /api/auth/login or an API token")


@dataclass(frozen=True)
class Login:
    """The token a request came with and its user."""

    token: AuthToken
    user: User


def get_login(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Login:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise not_authenticated()
    token = auth_service.authenticate_token(session, credentials.credentials)
    if token is None:
        raise not_authenticated(
            "Your login has expired or the token is not valid. Please log in again.", "invalid_token"
        )
    user = session.get(User, token.user_id)
    if user is None:
        raise not_authenticated()
    return Login(token, user)


LoginDep = Annotated[Login, Depends(get_login)]


async def get_current_token(login: LoginDep) -> AuthToken:
    return login.token


CurrentToken = Annotated[AuthToken, Depends(get_current_token)]


async def get_login_user(login: LoginDep) -> User:
    return login.user


# The logged-in user even while a one-time password must still be replaced: only for the few routes such a user
# may use (who am I, change the password).
LoginUser = Annotated[User, Depends(get_login_user)]


async def get_current_user(user: LoginUser) -> User:
    """The logged-in user; 403 `password_change_required` while their password is a one-time password."""
    auth_service.require_password_changed(user)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


# --- the objects a path names, loaded only for a user who may see them (404 for everyone else) ---------------
# Two kinds: `ProjectDep`, `ScanDep` ... for the routes that change something (the project's owner only), and
# `ReadableProjectDep`, `ReadableScanDep` ... for the routes that only read (also the teachers of a class the
# owner is a student of: projects_service.can_read decides, in one place).
def get_project(project_id: Id, session: SessionDep, user: CurrentUser) -> Project:
    return projects_service.get_project(session, user, project_id)


ProjectDep = Annotated[Project, Depends(get_project)]


def get_readable_project(project_id: Id, session: SessionDep, user: CurrentUser) -> Project:
    return projects_service.get_readable_project(session, user, project_id)


ReadableProjectDep = Annotated[Project, Depends(get_readable_project)]


def get_scan(scan_id: Id, project: ProjectDep, session: SessionDep) -> Scan:
    return scans_service.get_scan(session, project, scan_id)


ScanDep = Annotated[Scan, Depends(get_scan)]


def get_readable_scan(scan_id: Id, project: ReadableProjectDep, session: SessionDep) -> Scan:
    return scans_service.get_scan(session, project, scan_id)


ReadableScanDep = Annotated[Scan, Depends(get_readable_scan)]


def get_cell(cell_id: Id, project: ProjectDep, session: SessionDep) -> Cell:
    return datasets_service.get_cell(session, project, cell_id)


CellDep = Annotated[Cell, Depends(get_cell)]


def get_readable_cell(cell_id: Id, project: ReadableProjectDep, session: SessionDep) -> Cell:
    return datasets_service.get_cell(session, project, cell_id)


ReadableCellDep = Annotated[Cell, Depends(get_readable_cell)]


def get_training(training_id: Id, project: ProjectDep, session: SessionDep) -> Training:
    return training_service.get_training(session, project, training_id)


TrainingDep = Annotated[Training, Depends(get_training)]


def get_readable_training(training_id: Id, project: ReadableProjectDep, session: SessionDep) -> Training:
    return training_service.get_training(session, project, training_id)


ReadableTrainingDep = Annotated[Training, Depends(get_readable_training)]


def get_finished_training(training: TrainingDep, session: SessionDep) -> Training:
    """A training that succeeded (409 otherwise): only those have a model and an evaluation."""
    training_service.require_finished(session, training)
    return training


FinishedTrainingDep = Annotated[Training, Depends(get_finished_training)]


def get_readable_finished_training(training: ReadableTrainingDep, session: SessionDep) -> Training:
    """A succeeded training (409 otherwise) that the user may read: its evaluation, model and playground."""
    training_service.require_finished(session, training)
    return training


ReadableFinishedTrainingDep = Annotated[Training, Depends(get_readable_finished_training)]


def get_job(job_id: Id, session: SessionDep, user: CurrentUser) -> Job:
    return jobs_service.get_job(session, user, job_id)


JobDep = Annotated[Job, Depends(get_job)]


def get_readable_job(job_id: Id, session: SessionDep, user: CurrentUser) -> Job:
    return jobs_service.get_readable_job(session, user, job_id)


ReadableJobDep = Annotated[Job, Depends(get_readable_job)]


def get_member_class(class_id: Id, session: SessionDep, user: CurrentUser) -> SchoolClass:
    """A class the user is a member of (teacher or student); 404 for everyone else."""
    return classes_service.get_class(session, user, class_id)


MemberClassDep = Annotated[SchoolClass, Depends(get_member_class)]


def get_taught_class(class_id: Id, session: SessionDep, user: CurrentUser) -> SchoolClass:
    """A class the user teaches; 404 for everyone else (its students too)."""
    return classes_service.get_taught_class(session, user, class_id)


TaughtClassDep = Annotated[SchoolClass, Depends(get_taught_class)]
