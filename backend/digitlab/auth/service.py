"""Accounts and tokens. Passwords are hashed with argon2; tokens are stored only as SHA-256."""

from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from digitlab.api.errors import ApiError, conflict, invalid, not_found
from digitlab.auth.models import AuthToken, User
from digitlab.core import security
from digitlab.core.config import Settings
from digitlab.core.models import utcnow

SESSION, API = "session", "api"
# Verifying against a real hash even for unknown users keeps the login's timing the same.
_DUMMY_HASH = security.hash_password("digitlab-timing-equaliser")


def register(session: Session, settings: Settings, username: str, password: str) -> User:
    if len(password) < settings.password_min_length:
        raise invalid(f"The password needs at least {settings.password_min_length} characters.",
                      "password_too_short")
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise conflict("That username is already taken. Please choose another one.", "username_taken")
    user = User(username=username, password_hash=security.hash_password(password))
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # two registrations racing for one name
        session.rollback()
        raise conflict("That username is already taken. Please choose another one.", "username_taken") from None
    session.refresh(user)
    return user


def login(session: Session, settings: Settings, username: str, password: str) -> tuple[User, AuthToken, str]:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        security.verify_password(password, _DUMMY_HASH)
        raise ApiError(401, "Wrong username or password.", "bad_credentials")
    if not security.verify_password(password, user.password_hash):
        raise ApiError(401, "Wrong username or password.", "bad_credentials")
    expires = utcnow() + timedelta(hours=settings.session_token_hours)
    token, raw = _issue(session, user, SESSION, "web session", expires)
    return user, token, raw


def _issue(session: Session, user: User, kind: str, name: str, expires_at=None) -> tuple[AuthToken, str]:  # noqa: ANN001
    raw = security.new_token()
    token = AuthToken(user_id=user.id, kind=kind, name=name, token_hash=security.hash_token(raw),
                      prefix=raw[:10], expires_at=expires_at)
    session.add(token)
    session.commit()
    session.refresh(token)
    return token, raw


def authenticate_token(session: Session, raw: str) -> AuthToken | None:
    token = session.exec(select(AuthToken).where(AuthToken.token_hash == security.hash_token(raw))).first()
    now = utcnow()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.kind == API and (token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5)):
        # Coarse, so that a busy integration does not write on every request.
        token.last_used_at = now
        session.add(token)
        session.commit()
    return token


def logout(session: Session, token: AuthToken) -> None:
    token.revoked_at = utcnow()
    session.add(token)
    session.commit()


def create_api_token(session: Session, user: User, name: str) -> tuple[AuthToken, str]:
    return _issue(session, user, API, name)


def list_api_tokens(session: Session, user: User) -> list[AuthToken]:
    query = (select(AuthToken)
             .where(AuthToken.user_id == user.id, AuthToken.kind == API, AuthToken.revoked_at.is_(None))
             .order_by(AuthToken.id))
    return list(session.exec(query))


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(AuthToken, token_id)
    if token is None or token.user_id != user.id or token.kind != API or token.revoked_at is not None:
        raise not_found("API token")
    token.revoked_at = utcnow()
    session.add(token)
    session.commit()
