"""Request dependencies shared by all routers, as Annotated aliases."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from digitlab.api.errors import ApiError
from digitlab.auth import service as auth_service
from digitlab.auth.models import AuthToken, User
from digitlab.core.config import Settings
from digitlab.core.storage import FileStorage
from digitlab.jobs.runner import JobRunner


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_storage(request: Request) -> FileStorage:
    return request.app.state.storage


def get_runner(request: Request) -> JobRunner:
    return request.app.state.runner


# Ids are positive and fit the database's integer columns; anything else simply does not exist.
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
StorageDep = Annotated[FileStorage, Depends(get_storage)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]

_bearer = HTTPBearer(auto_error=False, description="A session token from /api/auth/login or an API token")


def get_current_token(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AuthToken:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "Please log in first.", "not_authenticated")
    token = auth_service.authenticate_token(session, credentials.credentials)
    if token is None:
        raise ApiError(401, "Your login has expired or the token is not valid. Please log in again.",
                       "invalid_token")
    return token


CurrentToken = Annotated[AuthToken, Depends(get_current_token)]


def get_current_user(session: SessionDep, token: CurrentToken) -> User:
    user = session.get(User, token.user_id)
    if user is None:
        raise ApiError(401, "Please log in first.", "not_authenticated")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
