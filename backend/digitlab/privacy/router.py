from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from digitlab.api.deps import CurrentUser, Id, RunnerDep, SessionDep, SettingsDep, StorageDep
from digitlab.api.turns import PASSWORD_TURN
from digitlab.auth.router import LimiterDep
from digitlab.auth.tables import User
from digitlab.privacy import service
from digitlab.privacy.schemas import PasswordConfirmation, StudentDataDeleted

router = APIRouter(tags=["privacy"])


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def _zip(chunks: Iterator[bytes], subject: User) -> StreamingResponse:
    return StreamingResponse(
        chunks,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{service.export_file_name(subject)}"'},
    )


@router.get("/api/privacy/export", response_class=StreamingResponse)
def export_my_data(
    user: CurrentUser, settings: SettingsDep, limiter: LimiterDep, engine: EngineDep, storage: StorageDep
):
    """Everything stored about your account as one zip: the account and its classes, every record (JSON), your
    samples (PNG), your uploaded scans, previews and trained networks (README.txt inside says what is where).
    Made while it downloads; a few exports per student and day (429 with Retry-After beyond that)."""
    return _zip(service.start_export(settings, limiter, engine, storage, user), user)


@router.delete("/api/privacy/account", status_code=status.HTTP_204_NO_CONTENT, dependencies=[PASSWORD_TURN])
def delete_my_account(
    body: PasswordConfirmation,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    storage: StorageDep,
    runner: RunnerDep,
    user: CurrentUser,
):
    """Deletes your account and everything of it (projects, scans, samples, trainings, networks, class
    memberships, your samples in class data sets and challenges); nothing can bring it back. Needs your password
    (422 `wrong_password`, throttled like a login). The only teacher of a class gets 409 `only_teacher`."""
    service.delete_own_account(session, settings, limiter, storage, runner, user, body.password)


@router.get("/api/classes/{class_id}/students/{student_id}/export", response_class=StreamingResponse)
def export_student_data(
    class_id: Id,
    student_id: Id,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    limiter: LimiterDep,
    engine: EngineDep,
    storage: StorageDep,
):
    """For a teacher of the class: everything of one of its students as one zip (what the student's own export
    holds)."""
    _, student = service.student_of_class(session, user, class_id, student_id)
    return _zip(service.start_export(settings, limiter, engine, storage, student), student)


@router.delete(
    "/api/classes/{class_id}/students/{student_id}/data",
    response_model=StudentDataDeleted,
    dependencies=[PASSWORD_TURN],
)
def delete_student_data(
    class_id: Id,
    student_id: Id,
    body: PasswordConfirmation,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    storage: StorageDep,
    runner: RunnerDep,
    user: CurrentUser,
):
    """For a teacher of the class (with the teacher's password). An account made for this class (login card,
    learning platform) is deleted with all its data. A student who registered themselves is removed from the
    class with their data there (membership, samples in the class data set and challenge, scores) and keeps
    their account and own projects: `account_deleted` says which happened."""
    deleted = service.delete_student_data(
        session, settings, limiter, storage, runner, user, class_id, student_id, body.password
    )
    return StudentDataDeleted(account_deleted=deleted)
