from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status

from digitlab.api.deps import CurrentToken, CurrentUser, Id, LoginUser, SessionDep, SettingsDep
from digitlab.api.paging import PageDep
from digitlab.api.turns import PASSWORD_TURN
from digitlab.auth import service
from digitlab.auth.schemas import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenPublic,
    InviteRedeem,
    LoginRequest,
    PasswordChange,
    PasswordRulePublic,
    SessionPublic,
    SessionsEnded,
    SessionTokenPublic,
    TeacherInviteCreate,
    TeacherInviteCreated,
    TeacherInvitePublic,
    UserCreate,
    UserPublic,
)
from digitlab.classes.tables import TeacherInvite
from digitlab.core.ratelimit import RateLimiter
from digitlab.core.text import SafeStr

router = APIRouter(prefix="/api/auth", tags=["auth"])
admin_router = APIRouter(prefix="/api/admin", tags=["admin"])


async def get_limiter(request: Request) -> RateLimiter:
    return request.app.state.limiter


async def get_client_address(request: Request) -> str:
    """The address rate limits per network count by (behind a proxy, the one it forwards: see README)."""
    return request.client.host if request.client else "unknown"


LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
ClientDep = Annotated[str, Depends(get_client_address)]


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=UserPublic, dependencies=[PASSWORD_TURN])
def register(body: UserCreate, session: SessionDep, settings: SettingsDep, limiter: LimiterDep, client: ClientDep):
    """Usernames are not case-sensitive; passwords need 8 characters and must not be easy to guess.
    Limited per network address (429 with Retry-After). The first account on an empty instance is its admin;
    with `invite_code` (from an admin) the account is a teacher's (422 `invite_unknown`, `invite_used`,
    `invite_expired` or `invite_revoked`: then no account is made); every other account is a student's."""
    return service.register(session, settings, limiter, client, body.username, body.password, body.invite_code)


@router.get("/password-rule", response_model=PasswordRulePublic)
def password_rule(settings: SettingsDep):
    """What a new password needs (registration, join, new password), so the forms can say it before the first
    try. Public: the registration form shows it."""
    return PasswordRulePublic(
        min_length=max(settings.password_min_length, MIN_PASSWORD_LENGTH),
        max_length=MAX_PASSWORD_LENGTH,
        hard_to_guess=settings.password_min_score > 0,
    )


def _session_token(session, settings, limiter, client, username: str, password: str) -> SessionTokenPublic:
    user, token, raw = service.login(session, settings, limiter, client, username, password)
    return SessionTokenPublic.of(user, token, raw)


@router.post("/login", response_model=SessionTokenPublic, dependencies=[PASSWORD_TURN])
def login(body: LoginRequest, session: SessionDep, settings: SettingsDep, limiter: LimiterDep, client: ClientDep):
    """Starts a web session. Repeated wrong passwords slow the account down (429 with Retry-After, doubling
    from a minute up to half an hour, reset by a successful login); many attempts from one address are limited
    too. `password_change_required: true` (a login card's one-time password): choose a new password with
    POST /api/auth/password first; until then every other route but GET /api/auth/me and logout answers 403
    `password_change_required`."""
    return _session_token(session, settings, limiter, client, body.username, body.password)


@router.post("/token", response_model=SessionTokenPublic, dependencies=[PASSWORD_TURN])
def login_form(
    username: Annotated[SafeStr, Form(min_length=1, max_length=64)],  # an empty field is a missing one
    password: Annotated[SafeStr, Form(min_length=1, max_length=MAX_PASSWORD_LENGTH)],
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    client: ClientDep,
):
    """The same login as a form post (OAuth2 password flow), for tools such as the /docs page."""
    return _session_token(session, settings, limiter, client, username, password)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: SessionDep, token: CurrentToken):
    """Ends this web session. With an API token: 403 `session_required`, and the token stays valid (revoke
    API tokens with DELETE /api/auth/api-tokens/{token_id})."""
    service.logout(session, token)


@router.get("/me", response_model=UserPublic)
def me(user: LoginUser):
    """The logged-in account with its role (also while a one-time password must still be replaced)."""
    return user


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT, dependencies=[PASSWORD_TURN])
def change_password(
    body: PasswordChange,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    user: LoginUser,
    token: CurrentToken,
):
    """Needs the current password and a web session (403 with an API token). Ends all other web sessions;
    API tokens stay valid. Replaces a one-time password too (then the new one must differ from it: 422
    `same_password`), after which every route works again."""
    service.change_password(session, settings, limiter, user, token, body.current_password, body.new_password)


@router.get("/sessions", response_model=list[SessionPublic])
def list_sessions(session: SessionDep, user: CurrentUser, token: CurrentToken, page: PageDep):
    """Your active web sessions (logins), oldest first; `current` marks the one making this request."""
    return [
        SessionPublic(
            id=s.id,
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            expires_at=s.expires_at,
            current=s.id == token.id,
        )
        for s in service.list_sessions(session, user, page)
    ]


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def end_session(session_id: Id, session: SessionDep, user: CurrentUser):
    """Ends one of your web sessions (logs that device out); the current one too, like logout."""
    service.end_session(session, user, session_id)


@router.post("/sessions/end-others", response_model=SessionsEnded)
def end_other_sessions(session: SessionDep, user: CurrentUser, token: CurrentToken):
    """Ends every web session except the one making this request (with an API token: all of them)."""
    return SessionsEnded(ended=service.end_other_sessions(session, user, token))


@router.post("/api-tokens", status_code=status.HTTP_201_CREATED, response_model=ApiTokenCreated)
def create_api_token(body: ApiTokenCreate, session: SessionDep, user: CurrentUser, token: CurrentToken):
    """Only from a web session: an API token cannot create more API tokens (403 `session_required`)."""
    created, raw = service.create_api_token(session, user, token, body.name)
    return ApiTokenCreated(**ApiTokenPublic.model_validate(created, from_attributes=True).model_dump(), token=raw)


@router.get("/api-tokens", response_model=list[ApiTokenPublic])
def list_api_tokens(session: SessionDep, user: CurrentUser, page: PageDep):
    return service.list_api_tokens(session, user, page)


@router.delete("/api-tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_token(token_id: Id, session: SessionDep, user: CurrentUser):
    service.revoke_api_token(session, user, token_id)


@router.post("/teacher-invite", response_model=UserPublic)
def redeem_teacher_invite(body: InviteRedeem, session: SessionDep, user: CurrentUser):
    """Redeem a teacher invitation with the account you are logged in with: it becomes a teacher's (422
    `invite_unknown`, `invite_used`, `invite_expired` or `invite_revoked`; 409 `already_teacher` for
    teachers and admins, whose invitation stays unused)."""
    return service.redeem_teacher_invite(session, user, body.code)


# --- admin: teacher invitations -------------------------------------------------------------------------------
def _invite_public(invite: TeacherInvite, created_by: str | None, used_by: str | None) -> TeacherInvitePublic:
    return TeacherInvitePublic(
        **invite.model_dump(include={"id", "created_at", "expires_at", "used_at", "revoked_at"}),
        status=service.invite_status(invite),
        created_by=created_by,
        used_by=used_by,
    )


@admin_router.post("/teacher-invites", status_code=status.HTTP_201_CREATED, response_model=TeacherInviteCreated)
def create_teacher_invite(body: TeacherInviteCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser):
    """Admins only (403 `admins_only`). A single-use code (shown only in this answer) and a link into the web
    app: whoever registers with it, or redeems it while logged in (POST /api/auth/teacher-invite), becomes a
    teacher. Expires after `valid_days` (default 14)."""
    service.require_admin(user)
    invite, code = service.create_teacher_invite(session, settings, user, body.valid_days)
    public = _invite_public(invite, user.username, None)
    return TeacherInviteCreated(**public.model_dump(), code=code, link=service.invite_link(code))


@admin_router.get("/teacher-invites", response_model=list[TeacherInvitePublic])
def list_teacher_invites(session: SessionDep, user: CurrentUser, page: PageDep):
    """Admins only (403 `admins_only`): every invitation, newest first, without codes."""
    service.require_admin(user)
    return [_invite_public(*row) for row in service.list_teacher_invites(session, page)]


@admin_router.delete("/teacher-invites/{invite_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_teacher_invite(invite_id: Id, session: SessionDep, user: CurrentUser):
    """Withdraw an unused invitation (409 `invite_used` once it has been used). Admins only: for anyone else
    it does not exist (404)."""
    service.revoke_teacher_invite(session, user, invite_id)
