"""LTI 1.3: registered platforms, the third-party-initiated login, the launch and who the person launching is.

The browser flow, and why it needs no cookie of ours (a platform shows the tool in an iframe, where browsers
block third-party cookies):

1. login (`start_login`): the platform sends the browser to our login URL. We answer a small page that sends
   it on to the platform's authorization endpoint with a `state` and a `nonce`. The state is a JWT we sign
   (nothing is stored for a login, so an unauthenticated GET cannot fill the database); it carries the nonce
   and the hash of a random browser secret. The secret goes to the browser twice: in a cookie (HttpOnly,
   Secure, SameSite=None, Partitioned, so CHIPS-capable browsers keep it even in an iframe) and into the page's
   sessionStorage (partitioned per top-level site, so the same iframe finds it again).
2. launch (`launch`): the platform posts the id_token and state back. We check the id_token (signature
   against the platform's JWKS, iss, aud/azp, exp/iat, nonce, deployment, message type and version), the
   state's signature, and that the browser posting it is the one that started the login: by the cookie if the
   browser kept it, else our answer is a page that reads the secret from sessionStorage and posts the launch
   again with it. A browser that kept neither is refused (nothing created) and told to open the tool in a new
   window. Only then is anything written: the nonce (single use), the user, the class, the membership.
3. the web app (`redeem_launch_code`): the launch redirects to the web app with a one-time code in the URL's
   fragment; the page trades it once, within two minutes, for a session token it keeps in sessionStorage.
"""

import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from digitlab.auth import service as auth_service
from digitlab.auth.tables import AuthToken, Role, User
from digitlab.classes import service as classes_service
from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
from digitlab.core import security
from digitlab.core.clock import utcnow
from digitlab.core.config import Settings
from digitlab.core.db import stored_id
from digitlab.core.errors import conflict, not_authenticated, not_found
from digitlab.lti import keys
from digitlab.lti.schemas import ActivityKind, Grading, PlatformCreate, PlatformPublic, PlatformUpdate
from digitlab.lti.tables import (
    LtiActivity,
    LtiActivityProject,
    LtiContext,
    LtiDeepLink,
    LtiDeployment,
    LtiLaunchCode,
    LtiNonce,
    LtiPlatform,
    LtiUser,
)
from digitlab.lti.validation import (
    AGS,
    DEEP_LINKING,
    DEEP_LINKING_REQUEST,
    LTI,
    NRPS,
    JwksCache,
    LaunchRefused,
    is_teaching,
    unverified_parts,
    verify_id_token,
)
from digitlab.projects import service as projects_service
from digitlab.projects.schemas import ProjectCreate

# Platform key sets, per process (public and small; refetched on an unknown kid).
log = logging.getLogger(__name__)
JWKS_CACHE = JwksCache()
STATE_AUDIENCE = "digitlab:lti-state"
STATE_SECONDS = 600  # from our login redirect to the platform's answer
LAUNCH_CODE_SECONDS = 120
DEEP_LINK_SECONDS = 3600  # a teacher choosing what to add
COOKIE_PREFIX = "digitlab_lti_"


# --- the tool's addresses --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToolUrls:
    base: str

    @property
    def login(self) -> str:
        return f"{self.base}/api/lti/login"

    @property
    def launch(self) -> str:
        return f"{self.base}/api/lti/launch"

    @property
    def jwks(self) -> str:
        return f"{self.base}/api/lti/jwks"

    @property
    def registration(self) -> str:
        return f"{self.base}/api/lti/register"


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


# --- platforms (admins) ----------------------------------------------------------------------------------------
def deployment_ids(session: Session, platform_id: int) -> list[str]:
    rows = session.exec(
        select(LtiDeployment.deployment_id)
        .where(LtiDeployment.platform_id == platform_id)
        .order_by(col(LtiDeployment.id))
    )
    return list(rows)


def to_public(session: Session, platform: LtiPlatform) -> PlatformPublic:
    return PlatformPublic.model_validate(
        platform.model_dump() | {"deployment_ids": deployment_ids(session, stored_id(platform))}
    )


def _set_deployments(session: Session, platform_id: int, wanted: list[str]) -> None:
    have = {
        row.deployment_id: row
        for row in session.exec(select(LtiDeployment).where(LtiDeployment.platform_id == platform_id))
    }
    for deployment_id, row in have.items():
        if deployment_id not in wanted:
            session.delete(row)
    for deployment_id in dict.fromkeys(wanted):
        if deployment_id not in have:
            session.add(LtiDeployment(platform_id=platform_id, deployment_id=deployment_id))
    session.flush()


def create_platform(session: Session, body: PlatformCreate) -> LtiPlatform:
    taken = conflict("This platform (issuer and client id) is already registered.", "platform_exists")
    if session.exec(
        select(LtiPlatform).where(LtiPlatform.issuer == body.issuer, LtiPlatform.client_id == body.client_id)
    ).first():
        raise taken
    platform = LtiPlatform(
        name=body.name,
        issuer=body.issuer,
        client_id=body.client_id,
        auth_login_url=str(body.auth_login_url),
        auth_token_url=str(body.auth_token_url),
        jwks_url=str(body.jwks_url),
        store_names=body.store_names,
    )
    session.add(platform)
    try:
        session.flush()
    except IntegrityError:  # registered twice at once
        raise taken from None
    _set_deployments(session, stored_id(platform), list(body.deployment_ids))
    return platform


def list_platforms(session: Session) -> list[LtiPlatform]:
    return list(session.exec(select(LtiPlatform).order_by(col(LtiPlatform.id))))


def list_public(session: Session) -> list[PlatformPublic]:
    """Every platform with its deployments, read in one query for all of them."""
    deployments: dict[int, list[str]] = {}
    for platform_id, deployment_id in session.exec(
        select(LtiDeployment.platform_id, LtiDeployment.deployment_id).order_by(col(LtiDeployment.id))
    ):
        deployments.setdefault(platform_id, []).append(deployment_id)
    return [
        PlatformPublic.model_validate(
            platform.model_dump() | {"deployment_ids": deployments.get(stored_id(platform), [])}
        )
        for platform in list_platforms(session)
    ]


def get_platform(session: Session, platform_id: int) -> LtiPlatform:
    platform = session.get(LtiPlatform, platform_id)
    if platform is None:
        raise not_found("Platform")
    return platform


def find_platform(session: Session, issuer: str, client_id: str | None = None) -> LtiPlatform | None:
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id is not None:
        query = query.where(LtiPlatform.client_id == client_id)
    found = list(session.exec(query.limit(2)))
    return found[0] if len(found) == 1 else None


def update_platform(session: Session, platform: LtiPlatform, body: PlatformUpdate) -> LtiPlatform:
    changes = body.model_dump(exclude_unset=True, exclude={"deployment_ids"})
    for name, value in changes.items():
        if value is not None:
            setattr(platform, name, str(value) if name.endswith("_url") else value)
    if "jwks_url" in changes:
        JWKS_CACHE.forget(platform.jwks_url)
    session.add(platform)
    session.flush()
    if body.deployment_ids is not None:
        _set_deployments(session, stored_id(platform), list(body.deployment_ids))
    return platform


def delete_platform(session: Session, platform: LtiPlatform) -> None:
    """Its users, classes and students' work stay (they are Digit Lab's now); its launches stop."""
    session.delete(platform)
    session.flush()


def framing_origins(session: Session) -> list[str]:
    """The origins that may show the web app in a frame: those of the enabled platforms."""
    found: set[str] = set()
    for platform in session.exec(select(LtiPlatform).where(col(LtiPlatform.enabled).is_(True))):
        found |= {origin(platform.issuer), origin(platform.auth_login_url)}
    return sorted(o for o in found if o.startswith(("https://", "http://")))


class PlatformOrigins:
    """framing_origins, for the security headers of every response. The answer never waits for the database:
    the headers are made on the event loop, where a wait for a pooled connection would stall every request (and,
    on SQLite, a request holding the write lock). The origins are read once when the service starts, then
    re-read in a background thread when they are older than `max_age`; until then the previous answer stands."""

    def __init__(self, engine: Engine, max_age: float = 10.0) -> None:
        self._engine = engine
        self._max_age = max_age
        self._lock = threading.Lock()
        self._refreshing = False
        self._value = (self._read(), time.monotonic())

    def _read(self) -> list[str]:
        with Session(self._engine) as session:
            return framing_origins(session)

    def __call__(self) -> list[str]:
        with self._lock:
            value, read_at = self._value
            if time.monotonic() - read_at >= self._max_age and not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="lti-framing-origins", daemon=True).start()
            return value

    def _refresh(self) -> None:
        try:
            value = self._read()
            with self._lock:
                self._value = (value, time.monotonic())
        except Exception:  # the database is away for a moment: keep the last answer, try again later
            log.exception("could not re-read the learning platforms' origins")
        finally:
            with self._lock:
                self._refreshing = False

    def invalidate(self) -> None:
        """After a registration changed in this process and was committed: re-read at once (a rare admin action;
        other processes see it within max_age)."""
        value = self._read()
        with self._lock:
            self._value = (value, time.monotonic())


# --- 1. login ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoginRedirect:
    url: str  # the platform's authorization endpoint with our request
    state_id: str  # names the browser secret's cookie and sessionStorage entry
    browser_secret: str


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_login(session: Session, params: Mapping[str, str], urls: ToolUrls) -> LoginRedirect:
    """The answer to a platform's third-party-initiated login (GET query or POST form)."""
    issuer, login_hint, target = params.get("iss"), params.get("login_hint"), params.get("target_link_uri")
    if not issuer or not login_hint or not target:
        raise LaunchRefused("bad_login", "The login request is missing iss, login_hint or target_link_uri.")
    platform = find_platform(session, issuer, params.get("client_id"))
    if platform is None:
        raise LaunchRefused("unknown_platform", "This learning platform is not registered with Digit Lab.")
    if not platform.enabled:
        raise LaunchRefused("platform_disabled", "Launches from this learning platform are switched off.")
    deployment = params.get("lti_deployment_id")
    if deployment is not None and deployment not in deployment_ids(session, stored_id(platform)):
        raise LaunchRefused("unknown_deployment", "This deployment of Digit Lab is not registered.")
    if origin(target) != origin(urls.base):
        raise LaunchRefused("bad_login", "The login names a target that is not Digit Lab.")
    state_id, secret, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = int(time.time())
    state = keys.sign(
        session,
        {
            "aud": STATE_AUDIENCE,
            "iat": now,
            "exp": now + STATE_SECONDS,
            "pid": platform.id,
            "sid": state_id,
            "nonce": nonce,
            "bind": _secret_hash(secret),
        },
    )
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": urls.launch,
        "login_hint": login_hint,
        "state": state,
        "nonce": nonce,
    }
    if hint := params.get("lti_message_hint"):
        query["lti_message_hint"] = hint
    separator = "&" if "?" in platform.auth_login_url else "?"
    return LoginRedirect(platform.auth_login_url + separator + urlencode(query), state_id, secret)


# --- 2. launch --------------------------------------------------------------------------------------------------
class BrowserProofNeeded(Exception):
    """The browser sent no cookie: its page must show the secret it keeps in sessionStorage."""

    def __init__(self, state_id: str) -> None:
        super().__init__(state_id)
        self.state_id = state_id


@dataclass(frozen=True)
class LaunchDone:
    code: str  # the one-time code for the web app
    target: str


def read_state(session: Session, state: str) -> dict[str, Any]:
    try:
        claims = keys.verify_own(session, state, audience=STATE_AUDIENCE)
    except jwt.ExpiredSignatureError as exc:
        raise LaunchRefused(
            "expired_state", "The launch took too long. Please start it again from the course."
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise LaunchRefused("bad_state", "The launch's state is not one Digit Lab issued.") from exc
    if not all(isinstance(claims.get(name), str) for name in ("sid", "nonce", "bind")):
        raise LaunchRefused("bad_state", "The launch's state is not one Digit Lab issued.")
    return claims


def state_id_of(session: Session, state: str) -> str | None:
    """The state's id (for the cookie's name) if the state is ours, else None."""
    try:
        return read_state(session, state)["sid"]
    except LaunchRefused:
        return None


def check_launch(
    session: Session, id_token: str, state: str, browser_secrets: list[str], proof_attempted: bool
) -> tuple[LtiPlatform, dict[str, Any]]:
    """Every check of a launch, in an order that never writes: the platform, the id_token, the nonce (matching
    the state's and never used), the deployment, the browser. Returns the platform and the verified claims."""
    if not id_token or not state:
        raise LaunchRefused("bad_launch", "The launch is missing its id_token or state.")
    state_claims = read_state(session, state)
    header, unverified = unverified_parts(id_token)
    platform = session.get(LtiPlatform, state_claims.get("pid"))
    if platform is None:
        raise LaunchRefused("unknown_platform", "This learning platform is not registered with Digit Lab.")
    if not platform.enabled:
        raise LaunchRefused("platform_disabled", "Launches from this learning platform are switched off.")
    if header.get("alg") in (None, "none") or str(header.get("alg")).startswith("HS"):
        raise LaunchRefused(
            "bad_algorithm", f"The launch was signed with {header.get('alg')!r}, which is not accepted."
        )
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise LaunchRefused("unknown_kid", "The launch does not name the key it was signed with.")
    if unverified.get("iss") != platform.issuer:
        raise LaunchRefused("wrong_issuer", "The launch does not come from the platform that started the login.")
    claims = verify_id_token(
        id_token,
        issuer=platform.issuer,
        client_id=platform.client_id,
        platform_key=JWKS_CACHE.key(platform.jwks_url, kid),
    )
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise LaunchRefused("missing_nonce", "The launch carries no nonce.")
    if not secrets.compare_digest(nonce, state_claims["nonce"]):
        raise LaunchRefused("wrong_nonce", "The launch's nonce is not the one Digit Lab asked for.")
    used = session.exec(select(LtiNonce.id).where(LtiNonce.platform_id == platform.id, LtiNonce.nonce == nonce)).first()
    if used is not None:
        raise LaunchRefused("replayed_nonce", "This launch was already used. Please start it again from the course.")
    if claims[LTI + "deployment_id"] not in deployment_ids(session, stored_id(platform)):
        raise LaunchRefused("unknown_deployment", "This deployment of Digit Lab is not registered.")
    if claims[LTI + "message_type"] == DEEP_LINKING_REQUEST:
        if not is_teaching(claims[LTI + "roles"]):
            raise LaunchRefused("not_teaching", "Only a course's teachers can add Digit Lab activities.")
        accepts = claims[DEEP_LINKING + "deep_linking_settings"].get("accept_types")
        if isinstance(accepts, list) and "ltiResourceLink" not in accepts:
            raise LaunchRefused("bad_claims", "The course does not accept the kind of link Digit Lab makes.")
    if not any(secrets.compare_digest(_secret_hash(s), state_claims["bind"]) for s in browser_secrets if s):
        if not proof_attempted:
            raise BrowserProofNeeded(state_claims["sid"])
        raise LaunchRefused(
            "wrong_browser",
            "This browser is not the one that started the launch, or it keeps no data for Digit Lab inside the "
            "course page. Please open Digit Lab in a new window.",
        )
    return platform, claims


def launch(
    session: Session,
    settings: Settings,
    id_token: str,
    state: str,
    browser_secrets: list[str],
    proof_attempted: bool = False,
) -> LaunchDone:
    platform, claims = check_launch(session, id_token, state, browser_secrets, proof_attempted)
    # From here on the launch is valid: record the nonce first, so a concurrent replay fails on its uniqueness.
    session.add(
        LtiNonce(
            platform_id=stored_id(platform),
            nonce=claims["nonce"],
            expires_at=utcnow() + timedelta(seconds=STATE_SECONDS * 2),
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise LaunchRefused("replayed_nonce", "This launch was already used.") from None
    teaching = is_teaching(claims[LTI + "roles"])
    user = platform_user(session, platform, claims, teaching)
    context = _course(session, settings, platform, claims)
    join_class(session, context.class_id, user, teaching)
    if claims[LTI + "message_type"] == DEEP_LINKING_REQUEST:
        target = f"/lti/deep-link/{_deep_link_request(session, platform, user, claims)}"
    else:
        activity = _activity(session, context, claims)
        target = _activity_target(session, activity, context, user, teaching)
    return LaunchDone(_launch_code(session, user, target), target)


def _pseudonym(teaching: bool) -> str:
    return f"{'teacher' if teaching else 'student'}-{secrets.token_hex(5)}"


def platform_user(session: Session, platform: LtiPlatform, claims: dict[str, Any], teaching: bool) -> User:
    """The Digit Lab account of (issuer, subject): made at the first launch, pseudonymous."""
    link = session.exec(
        select(LtiUser).where(LtiUser.issuer == platform.issuer, LtiUser.subject == claims["sub"])
    ).first()
    if link is None:
        user = User(
            username=_pseudonym(teaching),
            # Nobody knows this password: the account is reached through the platform only.
            password_hash=security.hash_password(secrets.token_urlsafe(32)),
            role=Role.TEACHER if teaching else Role.STUDENT,
        )
        session.add(user)
        session.flush()
        link = LtiUser(
            issuer=platform.issuer, subject=claims["sub"], platform_id=stored_id(platform), user_id=stored_id(user)
        )
    else:
        found = session.get(User, link.user_id)
        assert found is not None, "lti_users.user_id cascades"
        user = found
        if teaching and user.role == Role.STUDENT:
            user.role = Role.TEACHER
            session.add(user)
    name = claims.get("name") if platform.store_names else None
    link.name = name[:100] if isinstance(name, str) and name else None
    session.add(link)
    session.flush()
    return user


def _course(session: Session, settings: Settings, platform: LtiPlatform, claims: dict[str, Any]) -> LtiContext:
    """The class of the launch's course, made at the course's first launch."""
    course = claims[LTI + "context"]
    row = session.exec(
        select(LtiContext).where(LtiContext.issuer == platform.issuer, LtiContext.context_id == course["id"])
    ).first()
    if row is None:
        title = course.get("title") or course.get("label") or "Course"
        school_class = SchoolClass(
            name=str(title)[:100], delete_after=utcnow() + timedelta(days=settings.class_retention_days)
        )
        session.add(school_class)
        session.flush()
        row = LtiContext(
            issuer=platform.issuer,
            context_id=course["id"],
            platform_id=stored_id(platform),
            deployment_id=claims[LTI + "deployment_id"],
            class_id=stored_id(school_class),
        )
    nrps = claims.get(NRPS)
    if isinstance(nrps, dict) and isinstance(nrps.get("context_memberships_url"), str):
        row.memberships_url = nrps["context_memberships_url"][:1000]
    ags = claims.get(AGS)
    if isinstance(ags, dict):
        if isinstance(ags.get("lineitems"), str):
            row.lineitems_url = ags["lineitems"][:1000]
        if isinstance(ags.get("scope"), list):
            row.ags_scopes = " ".join(s for s in ags["scope"] if isinstance(s, str))[:1000]
    session.add(row)
    session.flush()
    return row


def join_class(session: Session, class_id: int, user: User, teaching: bool) -> ClassMember:
    """Instructors and administrators teach the class, learners are its students (through the classes service, so
    a student gets the class's next writer number); the platform's latest word on the role wins."""
    role = ClassRole.TEACHER if teaching else ClassRole.STUDENT
    member = classes_service.membership(session, class_id, stored_id(user))
    if member is not None and member.role == role:
        return member
    school_class = session.get(SchoolClass, class_id)
    assert school_class is not None, "lti_contexts.class_id cascades"
    if member is not None and teaching:  # a student became a teacher (their writer number stays unused)
        member.role = role
        session.add(member)
        session.flush()
        return member
    if member is not None:  # a teacher became a student: joins again, with a writer number
        session.delete(member)
        session.flush()
    if teaching:
        member = classes_service.add_teacher_account(session, school_class, user)
        member.account_made_for_class = True
    else:
        member = classes_service.add_student(session, school_class, user, made_for_class=True)
    session.add(member)
    session.flush()
    return member


def _custom(claims: dict[str, Any]) -> dict[str, Any]:
    custom = claims.get(LTI + "custom")
    return custom if isinstance(custom, dict) else {}


def _activity(session: Session, context: LtiContext, claims: dict[str, Any]) -> LtiActivity:
    """The resource link's activity: as deep linking set it up (its custom parameters), or a digits project."""
    link = claims[LTI + "resource_link"]
    row = session.exec(
        select(LtiActivity).where(LtiActivity.context_row_id == context.id, LtiActivity.resource_link_id == link["id"])
    ).first()
    if row is None:
        custom = _custom(claims)
        kind = custom.get("digitlab_activity")
        grading = custom.get("digitlab_grading")
        labels = custom.get("digitlab_labels")
        try:
            threshold = min(1.0, max(0.0, float(custom.get("digitlab_threshold", 0.9))))
        except (TypeError, ValueError):
            threshold = 0.9
        row = LtiActivity(
            context_row_id=stored_id(context),
            resource_link_id=link["id"],
            kind=kind if kind in set(ActivityKind) else ActivityKind.DIGITS,
            grading=grading if grading in set(Grading) else Grading.NONE,
            title=str(link.get("title") or "")[:255],
            labels=labels if isinstance(labels, str) and len(labels) <= 1000 else None,
            accuracy_threshold=threshold,
        )
    ags = claims.get(AGS)
    if isinstance(ags, dict) and isinstance(ags.get("lineitem"), str):
        row.lineitem_url = ags["lineitem"][:1000]
    session.add(row)
    session.flush()
    return row


def activity_project(session: Session, activity: LtiActivity, user: User) -> int:
    """The student's project in this activity (made at their first launch of it)."""
    row = session.exec(
        select(LtiActivityProject).where(
            LtiActivityProject.activity_id == activity.id, LtiActivityProject.user_id == user.id
        )
    ).first()
    if row is not None:
        return row.project_id
    labels = None
    if activity.kind == ActivityKind.SYMBOLS and activity.labels:
        try:
            labels = json.loads(activity.labels)
        except ValueError:
            labels = None
    name = (activity.title or "Digits")[:100]
    body = ProjectCreate(name=name, labels=labels) if labels else ProjectCreate(name=name)
    project = projects_service.create_project(session, user, body)
    session.add(
        LtiActivityProject(activity_id=stored_id(activity), user_id=stored_id(user), project_id=stored_id(project))
    )
    session.flush()
    return stored_id(project)


def _activity_target(session: Session, activity: LtiActivity, context: LtiContext, user: User, teaching: bool) -> str:
    """Where the web app opens: a teacher at the class, a student in their project of the activity."""
    if teaching:
        return f"/classes/{context.class_id}"
    if activity.kind == ActivityKind.CHALLENGE:
        return f"/classes/{context.class_id}/challenge"
    return f"/projects/{activity_project(session, activity, user)}"


def _deep_link_request(session: Session, platform: LtiPlatform, user: User, claims: dict[str, Any]) -> int:
    settings = claims[DEEP_LINKING + "deep_linking_settings"]
    data = settings.get("data")
    request = LtiDeepLink(
        platform_id=stored_id(platform),
        user_id=stored_id(user),
        deployment_id=claims[LTI + "deployment_id"],
        return_url=settings["deep_link_return_url"][:1000],
        data=data[:2000] if isinstance(data, str) else None,
        accept_lineitem=bool(settings.get("accept_lineitem", True)),
        expires_at=utcnow() + timedelta(seconds=DEEP_LINK_SECONDS),
    )
    session.add(request)
    session.flush()
    return stored_id(request)


def _launch_code(session: Session, user: User, target: str) -> str:
    code = secrets.token_urlsafe(32)
    session.add(
        LtiLaunchCode(
            code_hash=security.hash_token(code),
            user_id=stored_id(user),
            target=target,
            expires_at=utcnow() + timedelta(seconds=LAUNCH_CODE_SECONDS),
        )
    )
    session.flush()
    return code


# --- 3. the web app trades the code for a session ----------------------------------------------------------------
def redeem_launch_code(session: Session, settings: Settings, code: str) -> tuple[User, AuthToken, str, str]:
    """(user, session token, its secret, the route to open). A code works once, for LAUNCH_CODE_SECONDS."""
    now = utcnow()
    row = session.exec(select(LtiLaunchCode).where(LtiLaunchCode.code_hash == security.hash_token(code))).first()
    refused = not_authenticated(
        "This launch has already been used or has expired. Please open Digit Lab again from the course.",
        "launch_code_invalid",
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise refused
    claimed = session.exec(
        update(LtiLaunchCode)
        .where(col(LtiLaunchCode.id) == row.id, col(LtiLaunchCode.used_at).is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # two tabs trading one code at once: only one wins
        raise refused
    user = session.get(User, row.user_id)
    if user is None:
        raise refused
    token, raw = auth_service.start_session(session, settings, user, name="learning platform")
    return user, token, raw, row.target


def prune(session: Session) -> None:
    """Nonces, codes and answered deep links whose time is over (nothing can use them any more)."""
    now = utcnow()
    session.exec(delete(LtiNonce).where(col(LtiNonce.expires_at) < now))
    session.exec(delete(LtiLaunchCode).where(col(LtiLaunchCode.expires_at) < now))
    session.exec(delete(LtiDeepLink).where(col(LtiDeepLink.expires_at) < now))
    session.flush()
