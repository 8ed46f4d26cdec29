"""Accounts, logins and tokens. Passwords are hashed with argon2; tokens are stored only as SHA-256.

Like every service this one only flushes: the request's unit of work commits (digitlab.core.db).

Logins are throttled with digitlab.core.ratelimit (the `limits` library), never locked:
- per account, every attempt counts and a success clears the count; when one of the account's windows is full
  (settings.login_account_limits: 5 a minute, 6 in 2 minutes, 7 in 4, ... 11 an hour) the next attempt is
  refused with 429 and Retry-After before the password is even looked at. So after five quick failures each
  further guess waits about twice as long as the one before (1, 2, 4, 8, 16, 30 minutes), and every wait ends by
  itself: no classmate can lock anyone out for good, and a brute force gets at most 11 guesses an hour.
  Unknown usernames are throttled alike, so the answers never reveal which accounts exist.
- per client address, generously (settings.login_ip_limits, register_ip_limits): a class behind one school
  NAT logs in together, while hundreds of attempts a minute from one address are stopped.
"""

import re
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from zxcvbn import zxcvbn

from digitlab.auth.schemas import USERNAME_PATTERN
from digitlab.auth.tables import AuthToken, Role, User, username_key
from digitlab.classes.tables import TeacherInvite
from digitlab.core import codes, security
from digitlab.core.clock import utcnow
from digitlab.core.config import Settings
from digitlab.core.errors import DomainError, ErrorKind, conflict, invalid, not_authenticated, not_found
from digitlab.core.paging import FIRST_PAGE, Page
from digitlab.core.ratelimit import RateLimiter

SESSION, API = "session", "api"
# What the limiter counts, and by whom.
LOGIN_IP, LOGIN_ACCOUNT, REGISTER_IP = "login-ip", "login-account", "register-ip"
# zxcvbn's running time grows with the length; it refuses passwords beyond 72 characters by default.
_ZXCVBN_MAX_LENGTH = 72
# Verifying against a real hash even for unknown users keeps the login's timing the same.
_DUMMY_HASH = security.hash_password("digitlab-timing-equaliser")


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{-(-seconds // 60)} minutes"


def rate_limited(detail: str, seconds: int) -> DomainError:
    """429 `too_many_attempts` with Retry-After and the wait in words."""
    return DomainError(
        ErrorKind.RATE_LIMITED,
        f"{detail} Please wait {_wait_text(seconds)} and try again.",
        "too_many_attempts",
        retry_after=seconds,
    )


def _count_attempt(limiter: RateLimiter, policy: str, what: str, who: str, detail: str) -> None:
    if (wait := limiter.hit(policy, what, who)) is not None:
        raise rate_limited(detail, wait)


def _bad_credentials() -> DomainError:
    return not_authenticated("Wrong username or password.", "bad_credentials")


def session_required(detail: str) -> DomainError:
    return DomainError(ErrorKind.FORBIDDEN, detail, "session_required")


# --- roles ----------------------------------------------------------------------------------------------------
def is_teacher(user: User) -> bool:
    """Teachers and admins (an admin is also a teacher) may create classes."""
    return user.role in (Role.TEACHER, Role.ADMIN)


def require_teacher(user: User) -> None:
    if not is_teacher(user):
        raise DomainError(ErrorKind.FORBIDDEN, "Only teachers can do this.", "teachers_only")


def require_admin(user: User) -> None:
    if user.role != Role.ADMIN:
        raise DomainError(ErrorKind.FORBIDDEN, "Only an admin can do this.", "admins_only")


def require_password_changed(user: User) -> None:
    """Refuse everything but choosing a new password to a user whose password is a one-time password (a login
    card, a teacher's reset): until then it is known to whoever printed or carried the card."""
    if user.password_is_temporary:
        raise DomainError(
            ErrorKind.FORBIDDEN,
            "Please choose your own password first: the one you logged in with was for one use only.",
            "password_change_required",
        )


def check_password(settings: Settings, password: str, username: str) -> None:
    """Refuse a new password that is short or easy to guess (zxcvbn: common passwords, keyboard patterns,
    dates, repeats, the username itself), with zxcvbn's advice in the message."""
    if len(password) < settings.password_min_length:
        raise invalid(
            f"The password needs at least {settings.password_min_length} characters.",
            "password_too_short",
            min_length=settings.password_min_length,
        )
    if password.casefold() == username.casefold():
        raise invalid("The password must not be your username.", "weak_password")
    result = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=[username, "digitlab", "digit lab"])
    if result["score"] < settings.password_min_score:
        feedback = result["feedback"]
        advice = " ".join(filter(None, [feedback.get("warning"), *feedback.get("suggestions", [])[:1]]))
        raise invalid(
            f"This password is too easy to guess. {advice or 'Try a few uncommon words together.'}", "weak_password"
        )


def count_registration(settings: Settings, limiter: RateLimiter, client: str) -> None:
    """Every new account counts against the client address's registration limit (429 when it is used up)."""
    _count_attempt(
        limiter, settings.register_ip_limits, REGISTER_IP, client, "Too many new accounts from your network."
    )


def register(
    session: Session,
    settings: Settings,
    limiter: RateLimiter,
    client: str,
    username: str,
    password: str,
    invite_code: str | None = None,
) -> User:
    """A new account: the first one on an empty instance is its admin; with a teacher invitation a teacher's;
    else a student's. A wrong invitation refuses the registration (nothing is created)."""
    count_registration(settings, limiter, client)
    check_password(settings, password, username)
    invite = usable_invite(session, invite_code) if invite_code is not None else None
    first = session.exec(select(User.id).limit(1)).first() is None
    role = Role.ADMIN if first else Role.TEACHER if invite is not None else Role.STUDENT
    user = add_account(session, username, security.hash_password(password), role=role)
    if invite is not None:
        _use_invite(session, invite, user)
    return user


def add_account(
    session: Session, username: str, password_hash: str, *, role: Role = Role.STUDENT, temporary: bool = False
) -> User:
    """A new account with an already checked name and hashed password; 409 `username_taken` if the name is."""
    key = username_key(username)
    taken = conflict("That username is already taken. Please choose another one.", "username_taken")
    if session.exec(select(User).where(User.username_key == key)).first() is not None:
        raise taken
    user = User(
        username=username, username_key=key, password_hash=password_hash, role=role, password_is_temporary=temporary
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # two registrations racing for one name (the unit of work rolls back)
        raise taken from None
    return user


def add_account_with_one_time_password(session: Session, username: str) -> tuple[User, str]:
    """A new student's account with a random one-time password (a login card), which it returns: only its hash
    is kept, and the student must choose their own password at the first login."""
    password = codes.one_time_password()
    return add_account(session, username, security.hash_password(password), temporary=True), password


def create_admin(session: Session, settings: Settings, username: str, password: str) -> User:
    """An admin account (the command line's `digitlab admin create`), under the same rules as a registration."""
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise invalid("A username has 3-64 letters, digits, '.', '_' or '-'.", "invalid_username")
    check_password(settings, password, username)
    return add_account(session, username, security.hash_password(password), role=Role.ADMIN)


def _check_account_password(
    settings: Settings, limiter: RateLimiter, key: str, user: User | None, password: str
) -> bool:
    """The per-account throttle around one password check: counts the attempt (429 when the account has
    to wait), clears the count on success."""
    _count_attempt(
        limiter, settings.login_account_limits, LOGIN_ACCOUNT, key, "Too many wrong passwords for this account."
    )
    if user is None:
        security.verify_password(password, _DUMMY_HASH)
        return False
    if not security.verify_password(password, user.password_hash):
        return False
    limiter.clear(settings.login_account_limits, LOGIN_ACCOUNT, key)
    return True


def confirm_password(
    settings: Settings, limiter: RateLimiter, user: User, password: str, detail: str = "The password is not correct."
) -> None:
    """The account's own password, asked again before something that cannot be undone (a password change, deleting
    the account); throttled like a login, so a stolen session cannot become a way to guess it. 422 if wrong."""
    if not _check_account_password(settings, limiter, user.username_key, user, password):
        raise invalid(detail, "wrong_password")


def login(
    session: Session, settings: Settings, limiter: RateLimiter, client: str, username: str, password: str
) -> tuple[User, AuthToken, str]:
    _count_attempt(limiter, settings.login_ip_limits, LOGIN_IP, client, "Too many login attempts from your network.")
    key = username_key(username)
    user = session.exec(select(User).where(User.username_key == key)).first()
    if not _check_account_password(settings, limiter, key, user, password):
        raise _bad_credentials()
    assert user is not None
    token, raw = start_session(session, settings, user)
    return user, token, raw


def start_session(session: Session, settings: Settings, user: User, name: str = "web session") -> tuple[AuthToken, str]:
    """A web session for a user who has proved who they are (a password, a learning platform's launch)."""
    expires = utcnow() + timedelta(hours=settings.session_token_hours)
    return _issue(session, user, SESSION, name, expires)


def _issue(session: Session, user: User, kind: str, name: str, expires_at=None) -> tuple[AuthToken, str]:
    assert user.id is not None, "the user is flushed first"
    raw = security.new_token()
    token = AuthToken(
        user_id=user.id,
        kind=kind,
        name=name,
        token_hash=security.hash_token(raw),
        prefix=raw[:10],
        expires_at=expires_at,
        # A login uses its session at once; marking that now spares its first requests a write (and so the
        # database's write lock) in a lesson's busiest minute. An API token is "never used" until it is.
        last_used_at=utcnow() if kind == SESSION else None,
    )
    session.add(token)
    session.flush()
    return token, raw


def _active(token: AuthToken, now=None) -> bool:
    now = now or utcnow()
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def authenticate_token(session: Session, raw: str) -> AuthToken | None:
    token = session.exec(select(AuthToken).where(AuthToken.token_hash == security.hash_token(raw))).first()
    now = utcnow()
    if token is None or not _active(token, now):
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        # Coarse, so that a busy client does not write on every request; shown in the token and session lists.
        token.last_used_at = now
        session.add(token)
        session.flush()
    return token


def logout(session: Session, token: AuthToken) -> None:
    """Ends the web session making the request. An API token is not a session: logging out with one is
    refused (403) and the token stays valid, so a platform that calls logout never kills its own token."""
    if token.kind != SESSION:
        raise session_required(
            "Logging out ends a web session. This is an API token: it stays valid until "
            "you revoke it (DELETE /api/auth/api-tokens/{id})."
        )
    _revoke(session, token)


def _revoke(session: Session, token: AuthToken) -> None:
    token.revoked_at = utcnow()
    session.add(token)
    session.flush()


# --- sessions -------------------------------------------------------------------------------------------------
def list_sessions(session: Session, user: User, page: Page = FIRST_PAGE) -> list[AuthToken]:
    query = (
        select(AuthToken)
        .where(
            AuthToken.user_id == user.id,
            AuthToken.kind == SESSION,
            col(AuthToken.revoked_at).is_(None),
            col(AuthToken.expires_at) > utcnow(),
        )
        .order_by(col(AuthToken.id))
    )
    return list(session.exec(page.apply(query)))


def end_session(session: Session, user: User, session_id: int) -> None:
    token = session.get(AuthToken, session_id)
    if token is None or token.user_id != user.id or token.kind != SESSION or not _active(token):
        raise not_found("Session")
    _revoke(session, token)


def end_other_sessions(session: Session, user: User, current: AuthToken) -> int:
    """Ends every web session of the user except the one making the request; returns how many."""
    ended = [token for token in list_sessions(session, user) if token.id != current.id]
    for token in ended:
        _revoke(session, token)
    return len(ended)


def change_password(
    session: Session,
    settings: Settings,
    limiter: RateLimiter,
    user: User,
    current: AuthToken,
    current_password: str,
    new_password: str,
) -> int:
    """Needs the current password (throttled like a login: a stolen session must not become a way to guess
    it) and a web session; ends the user's other sessions (API tokens stay: revoke them one by one).
    Returns how many sessions were ended."""
    if current.kind != SESSION:
        raise session_required("Change your password from a web session, not with an API token.")
    confirm_password(settings, limiter, user, current_password, "The current password is not correct.")
    check_password(settings, new_password, user.username)
    if new_password == current_password:
        raise invalid("Please choose a password different from the current one.", "same_password")
    user.password_hash = security.hash_password(new_password)
    user.password_is_temporary = False
    session.add(user)
    session.flush()
    return end_other_sessions(session, user, current)


def set_one_time_password(session: Session, user: User) -> str:
    """Give `user` a new random one-time password (a login card) and return it: only its hash is kept, the
    account must choose its own password at the next login, and every web session of it ends."""
    password = codes.one_time_password()
    user.password_hash = security.hash_password(password)
    user.password_is_temporary = True
    session.add(user)
    for token in list_sessions(session, user):
        _revoke(session, token)
    session.flush()
    return password


# --- API tokens -----------------------------------------------------------------------------------------------
def create_api_token(session: Session, user: User, current: AuthToken, name: str) -> tuple[AuthToken, str]:
    """Only a web session (someone who typed the password) can create API tokens: an API token that could mint
    more would outlive its own revocation."""
    if current.kind != SESSION:
        raise session_required("API tokens can only be created from a web session, not with another API token.")
    return _issue(session, user, API, name)


def list_api_tokens(session: Session, user: User, page: Page = FIRST_PAGE) -> list[AuthToken]:
    query = (
        select(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.kind == API, col(AuthToken.revoked_at).is_(None))
        .order_by(col(AuthToken.id))
    )
    return list(session.exec(page.apply(query)))


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(AuthToken, token_id)
    if token is None or token.user_id != user.id or token.kind != API or token.revoked_at is not None:
        raise not_found("API token")
    _revoke(session, token)


# --- teacher invitations --------------------------------------------------------------------------------------
# 16 characters of codes.CODE_ALPHABET: ~78 bits, so no number of guesses within the registration limits finds
# one; stored as a hash like tokens, so the database never holds a usable invitation.
INVITE_CODE_LENGTH = 16
ACTIVE, USED, EXPIRED, REVOKED = "active", "used", "expired", "revoked"


def invite_status(invite: TeacherInvite, now: datetime | None = None) -> str:
    if invite.used_at is not None:
        return USED
    if invite.revoked_at is not None:
        return REVOKED
    return EXPIRED if invite.expires_at <= (now or utcnow()) else ACTIVE


def invite_link(shown_code: str) -> str:
    """Where the web app takes an invited teacher (the code as create_teacher_invite shows it), relative to its
    address."""
    return f"/#/teacher-invite/{shown_code}"


def create_teacher_invite(
    session: Session, settings: Settings, admin: User | None, valid_days: int | None = None
) -> tuple[TeacherInvite, str]:
    """A single-use invitation and its code (in display form; the only time it is shown). `admin` None: made
    with the command line."""
    days = settings.teacher_invite_days if valid_days is None else valid_days
    if not 1 <= days <= settings.join_code_max_days:
        raise invalid(
            f"An invitation is valid for 1 to {settings.join_code_max_days} days.",
            "invalid_days",
            max_days=settings.join_code_max_days,
        )
    code = codes.new_code(INVITE_CODE_LENGTH)
    invite = TeacherInvite(
        code_hash=security.hash_token(code),
        created_by=admin.id if admin is not None else None,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(invite)
    session.flush()
    return invite, codes.display(code)


def list_teacher_invites(
    session: Session, page: Page = FIRST_PAGE
) -> list[tuple[TeacherInvite, str | None, str | None]]:
    """Every invitation, newest first, with the usernames of its maker and of who used it."""
    maker, user = aliased(User), aliased(User)
    query = (
        select(TeacherInvite, maker.username, user.username)
        .outerjoin(maker, col(maker.id) == TeacherInvite.created_by)
        .outerjoin(user, col(user.id) == TeacherInvite.used_by)
        .order_by(col(TeacherInvite.id).desc())
    )
    return [(invite, made_by, used_by) for invite, made_by, used_by in session.exec(page.apply(query))]


def revoke_teacher_invite(session: Session, admin: User, invite_id: int) -> None:
    """An admin revokes an unused invitation (others get 404, as for anything they cannot see)."""
    invite = session.get(TeacherInvite, invite_id)
    if invite is None or admin.role != Role.ADMIN:
        raise not_found("Teacher invite")
    if invite.used_at is not None:
        raise conflict("This invitation has already been used.", "invite_used")
    if invite.revoked_at is None:
        invite.revoked_at = utcnow()
        session.add(invite)
        session.flush()


def usable_invite(session: Session, typed: str) -> TeacherInvite:
    """The active invitation a typed code names; else 422 `invite_unknown`, `invite_used`, `invite_expired` or
    `invite_revoked`."""
    code = codes.normalize(typed, INVITE_CODE_LENGTH)
    invite = (
        session.exec(select(TeacherInvite).where(TeacherInvite.code_hash == security.hash_token(code))).first()
        if code is not None
        else None
    )
    if invite is None:
        raise invalid("This is not a valid teacher invitation. Please check the code.", "invite_unknown")
    status = invite_status(invite)
    if status != ACTIVE:
        raise invalid(_INVITE_REFUSALS[status], _INVITE_REFUSAL_CODES[status])
    return invite


_INVITE_REFUSALS = {
    USED: "This teacher invitation has already been used.",
    EXPIRED: "This teacher invitation has expired. Please ask for a new one.",
    REVOKED: "This teacher invitation was withdrawn. Please ask for a new one.",
}
# Spelled out, not built from the status: scripts/api_types.py collects every error code from the source.
_INVITE_REFUSAL_CODES = {USED: "invite_used", EXPIRED: "invite_expired", REVOKED: "invite_revoked"}


def _use_invite(session: Session, invite: TeacherInvite, user: User) -> None:
    # A conditional update: of two requests using one invitation at the same moment, only one succeeds.
    used = session.exec(
        update(TeacherInvite)
        .where(col(TeacherInvite.id) == invite.id, col(TeacherInvite.used_at).is_(None))
        .values(used_at=utcnow(), used_by=user.id)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise invalid(_INVITE_REFUSALS[USED], "invite_used")
    session.refresh(invite)


def redeem_teacher_invite(session: Session, user: User, typed: str) -> User:
    """A logged-in student becomes a teacher with an invitation; teachers and admins keep theirs unused (409)."""
    if is_teacher(user):
        raise conflict("Your account is already a teacher's.", "already_teacher")
    invite = usable_invite(session, typed)
    user.role = Role.TEACHER
    session.add(user)
    session.flush()
    _use_invite(session, invite, user)
    return user
