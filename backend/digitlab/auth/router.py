from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from digitlab.api.deps import CurrentToken, CurrentUser, Id, SessionDep, SettingsDep
from digitlab.auth import service
from digitlab.auth.schemas import (
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenPublic,
    LoginRequest,
    SessionTokenPublic,
    UserCreate,
    UserPublic,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
def register(body: UserCreate, session: SessionDep, settings: SettingsDep):
    return service.register(session, settings, body.username, body.password)


def _session_token(session, settings, username: str, password: str) -> SessionTokenPublic:  # noqa: ANN001
    user, token, raw = service.login(session, settings, username, password)
    return SessionTokenPublic(access_token=raw, expires_at=token.expires_at,
                              user=UserPublic.model_validate(user, from_attributes=True))


@router.post("/login", response_model=SessionTokenPublic)
def login(body: LoginRequest, session: SessionDep, settings: SettingsDep):
    return _session_token(session, settings, body.username, body.password)


@router.post("/token", response_model=SessionTokenPublic, include_in_schema=True)
def login_form(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep):
    """The same login as a form post (OAuth2 password flow), for tools such as the /docs page."""
    return _session_token(session, settings, form.username, form.password)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: SessionDep, token: CurrentToken):
    service.logout(session, token)


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser):
    return user


@router.post("/api-tokens", status_code=status.HTTP_201_CREATED, response_model=ApiTokenCreated)
def create_api_token(body: ApiTokenCreate, session: SessionDep, user: CurrentUser):
    token, raw = service.create_api_token(session, user, body.name)
    return ApiTokenCreated(**ApiTokenPublic.model_validate(token, from_attributes=True).model_dump(), token=raw)


@router.get("/api-tokens", response_model=list[ApiTokenPublic])
def list_api_tokens(session: SessionDep, user: CurrentUser):
    return service.list_api_tokens(session, user)


@router.delete("/api-tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_token(token_id: Id, session: SessionDep, user: CurrentUser):
    service.revoke_api_token(session, user, token_id)
