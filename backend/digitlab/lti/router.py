"""LTI 1.3: the platform-facing browser flow (login, launch: HTML pages, outside the OpenAPI document because
they are a browser protocol, not a REST API; see docs/lti.md), the tool's public keys, the web app's trade of a
launch code for a session, and the admins' registration of platforms and keys."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.datastructures import FormData

from digitlab.api.deps import CurrentUser, Id, SessionDep, SettingsDep
from digitlab.api.turns import PASSWORD_TURN
from digitlab.auth import service as auth_service
from digitlab.auth.schemas import UserPublic
from digitlab.auth.tables import Role, User
from digitlab.core.db import after_commit, unit_of_work
from digitlab.core.errors import not_found
from digitlab.lti import deep_linking, keys, pages, registration, roster, service
from digitlab.lti.schemas import (
    DeepLinkAnswer,
    DeepLinkChoice,
    DeepLinkPublic,
    JwksPublic,
    KeyPublic,
    LaunchCodeTrade,
    LtiSessionPublic,
    PlatformCreate,
    PlatformPublic,
    PlatformUpdate,
    RegistrationLinkPublic,
    RosterSynced,
    ToolConfiguration,
)
from digitlab.lti.tables import LtiPlatform
from digitlab.lti.validation import LaunchRefused

router = APIRouter(prefix="/api/lti", tags=["lti"])

_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
ADMIN_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "Admins only (`admins_only`)", **_ERROR}}
# The longest form a platform posts: an id_token with a large roster or custom claims stays well below this.
MAX_FORM_FIELD = 64 * 1024


async def get_admin(user: CurrentUser) -> User:
    auth_service.require_admin(user)  # 403 admins_only
    return user


AdminUser = Annotated[User, Depends(get_admin)]


def get_platform(platform_id: Id, session: SessionDep, user: CurrentUser) -> LtiPlatform:
    """A registered platform, for admins; for anyone else it does not exist (404)."""
    if user.role != Role.ADMIN:
        raise not_found("Platform")
    return service.get_platform(session, platform_id)


PlatformDep = Annotated[LtiPlatform, Depends(get_platform)]


def tool_urls(request: Request) -> service.ToolUrls:
    """Our addresses as the browser (or the platform) reached us; behind a proxy, uvicorn's proxy headers
    give the public scheme and host (see README: FORWARDED_ALLOW_IPS)."""
    return service.ToolUrls(str(request.base_url).rstrip("/"))


def _framing(request: Request) -> list[str]:
    origins = getattr(request.app.state, "lti_origins", None)
    return origins() if origins else []


def _refresh_framing(request: Request) -> None:
    origins = getattr(request.app.state, "lti_origins", None)
    if origins is not None:
        origins.invalidate()


# --- the browser flow -------------------------------------------------------------------------------------------
async def _login(request: Request, params: dict[str, str]) -> HTMLResponse:
    engine: Engine = request.app.state.engine
    urls = tool_urls(request)

    def start() -> service.LoginRedirect:
        with unit_of_work(engine) as session:  # only a first signing key may be written
            return service.start_login(session, params, urls)

    try:
        redirect = await run_in_threadpool(start)
    except LaunchRefused as refusal:
        return pages.refused(refusal.code, refusal.message, _framing(request))
    response = pages.login_redirect(redirect.url, redirect.state_id, redirect.browser_secret, _framing(request))
    # Where the browser keeps it (first party, or partitioned in an iframe: CHIPS), the launch needs no page step.
    # (Written by hand: Starlette's set_cookie writes `Partitioned` only on Python 3.14+; the value is URL-safe.)
    response.headers.append(
        "Set-Cookie",
        f"{service.COOKIE_PREFIX}{redirect.state_id}={redirect.browser_secret}; Max-Age={service.STATE_SECONDS}; "
        "Path=/api/lti/launch; Secure; HttpOnly; SameSite=None; Partitioned",
    )
    return response


def _fields(form: FormData) -> dict[str, str]:
    return {name: value[:MAX_FORM_FIELD] for name, value in form.items() if isinstance(value, str)}


@router.get("/login", include_in_schema=False)
async def login_get(request: Request) -> HTMLResponse:
    """OIDC third-party-initiated login (IMS Security Framework 5.1.1), as a GET."""
    return await _login(request, dict(request.query_params))


@router.post("/login", include_in_schema=False)
async def login_post(request: Request) -> HTMLResponse:
    """The same login as a form post."""
    return await _login(request, _fields(await request.form()))


@router.post("/launch", include_in_schema=False, dependencies=[PASSWORD_TURN])  # a first launch makes an account
async def launch(request: Request) -> Response:
    """The platform's authentication response (form_post): checked, then the browser goes on to the web app
    with a one-time code. A refusal is a page that says why; nothing is created."""
    framing = _framing(request)
    form = _fields(await request.form())
    if error := form.get("error"):
        message = form.get("error_description") or "The learning platform refused the login."
        return pages.refused(error[:100], message[:500], framing)
    id_token, state = form.get("id_token", ""), form.get("state", "")
    engine: Engine = request.app.state.engine
    settings, cookies = request.app.state.settings, request.cookies

    def check() -> tuple[str | None, service.LaunchDone]:
        with unit_of_work(engine) as session:
            state_id = service.state_id_of(session, state) if state else None
            offered = [form.get("browser_secret", "")]
            if state_id:
                offered.append(cookies.get(service.COOKIE_PREFIX + state_id, ""))
            done = service.launch(session, settings, id_token, state, offered, proof_attempted=form.get("proof") == "1")
            return state_id, done

    try:
        state_id, done = await run_in_threadpool(check)
    except service.BrowserProofNeeded as needed:
        return pages.browser_proof(id_token, state, needed.state_id, framing)
    except LaunchRefused as refusal:
        code = 503 if refusal.code == "jwks_unavailable" else 400
        return pages.refused(refusal.code, refusal.message, framing, status=code)
    # The code travels in the fragment: never sent to a server, never in a Referer.
    response = RedirectResponse(f"/#/lti/{done.code}", status_code=status.HTTP_303_SEE_OTHER)
    if state_id:
        response.headers.append(
            "Set-Cookie",
            f"{service.COOKIE_PREFIX}{state_id}=; Max-Age=0; Path=/api/lti/launch; Secure; HttpOnly; "
            "SameSite=None; Partitioned",
        )
    return response


@router.get("/register", include_in_schema=False)
async def dynamic_registration(request: Request) -> HTMLResponse:
    """LTI Dynamic Registration: the platform opens the address an admin made (POST /registration-links) with
    `openid_configuration` and `registration_token` added."""
    framing = _framing(request)
    query = request.query_params
    token, configuration = query.get("token", ""), query.get("openid_configuration", "")
    if not token or not configuration:
        return pages.refused("registration_failed", "The registration address is incomplete.", framing)
    engine: Engine = request.app.state.engine
    urls = tool_urls(request)

    def register() -> str:
        with unit_of_work(engine) as session:
            return registration.register(session, token, configuration, query.get("registration_token"), urls).name

    try:
        name = await run_in_threadpool(register)
    except LaunchRefused as refusal:
        return pages.refused(refusal.code, refusal.message, framing)
    _refresh_framing(request)
    return pages.registration_done(name, _framing(request))


@router.get("/jwks", response_model=JwksPublic)
def jwks(session: SessionDep):
    """The tool's public keys (JWKS): platforms check our signatures (grades, deep links) with them."""
    return keys.jwks(session)


@router.post(
    "/session",
    response_model=LtiSessionPublic,
    responses={401: {"description": "Unknown, used or expired code", **_ERROR}},
)
def trade_launch_code(body: LaunchCodeTrade, session: SessionDep, settings: SettingsDep):
    """The web app trades a launch's one-time code (from the launch's redirect) for a web session, once."""
    user, token, raw, target = service.redeem_launch_code(session, settings, body.code)
    return LtiSessionPublic(
        access_token=raw,
        expires_at=token.expires_at,
        user=UserPublic.model_validate(user, from_attributes=True),
        target=target,
    )


# --- administrators ---------------------------------------------------------------------------------------------
@router.get("/tool", response_model=ToolConfiguration, responses=ADMIN_ONLY)
def tool_configuration(request: Request, _admin: AdminUser):
    """The addresses to enter in a platform when registering Digit Lab by hand."""
    urls = tool_urls(request)
    return ToolConfiguration(
        login_url=urls.login,
        launch_url=urls.launch,
        deep_linking_url=urls.launch,
        jwks_url=urls.jwks,
        dynamic_registration=f"POST {urls.base}/api/lti/registration-links",
    )


@router.get("/platforms", response_model=list[PlatformPublic], responses=ADMIN_ONLY)
def list_platforms(session: SessionDep, _admin: AdminUser):
    return service.list_public(session)


@router.post(
    "/platforms",
    status_code=status.HTTP_201_CREATED,
    response_model=PlatformPublic,
    responses=ADMIN_ONLY | {409: {"description": "Already registered", **_ERROR}},
)
def create_platform(body: PlatformCreate, request: Request, session: SessionDep, _admin: AdminUser):
    """Register a platform by hand (the values its LTI 1.3 tool page shows)."""
    platform = service.create_platform(session, body)
    _refresh_framing_after_commit(request, session)
    return service.to_public(session, platform)


@router.get("/platforms/{platform_id}", response_model=PlatformPublic)
def get_platform_route(platform: PlatformDep, session: SessionDep):
    return service.to_public(session, platform)


@router.patch("/platforms/{platform_id}", response_model=PlatformPublic)
def update_platform(body: PlatformUpdate, platform: PlatformDep, request: Request, session: SessionDep):
    """Change a registration; `enabled: false` refuses every launch from it and sends it nothing."""
    service.update_platform(session, platform, body)
    _refresh_framing_after_commit(request, session)
    return service.to_public(session, platform)


@router.delete("/platforms/{platform_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_platform(platform: PlatformDep, request: Request, session: SessionDep):
    """Launches from it stop; the classes and work of its users stay."""
    service.delete_platform(session, platform)
    _refresh_framing_after_commit(request, session)


@router.get("/keys", response_model=list[KeyPublic], responses=ADMIN_ONLY)
def list_keys(session: SessionDep, _admin: AdminUser):
    """The tool's key pairs (public facts only; private keys never leave the server)."""
    keys.signing_key(session)
    return [KeyPublic.model_validate(key, from_attributes=True) for key in keys.published_keys(session)]


@router.post("/keys/rotate", status_code=status.HTTP_201_CREATED, response_model=KeyPublic, responses=ADMIN_ONLY)
def rotate_keys(session: SessionDep, _admin: AdminUser):
    """A new signing key; the old one stays published until tokens signed with it have expired."""
    return KeyPublic.model_validate(keys.rotate(session), from_attributes=True)


@router.post(
    "/registration-links",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationLinkPublic,
    responses=ADMIN_ONLY,
)
def create_registration_link(request: Request, session: SessionDep, admin: AdminUser):
    """A single-use address (valid a day) to paste into a platform's dynamic tool registration."""
    return registration.create_link(session, admin, tool_urls(request))


# --- teachers -----------------------------------------------------------------------------------------------------
@router.get("/deep-links/{deep_link_id}", response_model=DeepLinkPublic)
def get_deep_link(deep_link_id: Id, session: SessionDep, user: CurrentUser):
    """The teacher's open deep-linking request (the web app shows the choice of activity for it)."""
    return DeepLinkPublic.model_validate(deep_linking.get_request(session, user, deep_link_id), from_attributes=True)


@router.post(
    "/deep-links/{deep_link_id}",
    response_model=DeepLinkAnswer,
    responses={409: {"description": "The platform is no longer registered", **_ERROR}},
)
def answer_deep_link(body: DeepLinkChoice, deep_link_id: Id, request: Request, session: SessionDep, user: CurrentUser):
    """The teacher's choice, signed for the platform: the web app posts `jwt` as the form field JWT to
    `return_url`. Once per request."""
    deep_link = deep_linking.get_request(session, user, deep_link_id)
    return deep_linking.answer(session, deep_link, body, tool_urls(request))


@router.post(
    "/classes/{class_id}/roster-sync",
    response_model=RosterSynced,
    responses={409: {"description": "The class has no platform roster, or the platform is unreachable", **_ERROR}},
)
def sync_roster(class_id: Id, session: SessionDep, user: CurrentUser):
    """Names and Role Provisioning Services: the class's members as the platform lists them (pseudonymous)."""
    return roster.sync(session, user, class_id)


def _refresh_framing_after_commit(request: Request, session: Session) -> None:
    after_commit(session, lambda: _refresh_framing(request))
