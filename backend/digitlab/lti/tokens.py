"""Access tokens for a platform's services (AGS, NRPS): the OAuth 2 client-credentials grant with our signed JWT
assertion (RFC 7523, as the IMS Security Framework 4.1 says), cached per platform and scopes until shortly before
they expire."""

import secrets
import threading
import time

from sqlmodel import Session

from digitlab.lti import keys
from digitlab.lti.outbound import PlatformUnreachable, request_json
from digitlab.lti.tables import LtiPlatform

ASSERTION_SECONDS = 300
_cache: dict[tuple[int, str, str], tuple[str, float]] = {}
_lock = threading.Lock()


def access_token(session: Session, platform: LtiPlatform, scopes: list[str]) -> str:
    scope = " ".join(sorted(scopes))
    key = (platform.id or 0, platform.auth_token_url, scope)
    with _lock:
        cached = _cache.get(key)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    now = int(time.time())
    assertion = keys.sign(
        session,
        {
            "iss": platform.client_id,
            "sub": platform.client_id,
            "aud": platform.auth_token_url,
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
            "jti": secrets.token_urlsafe(16),
        },
    )
    answer, _ = request_json(
        "POST",
        platform.auth_token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": scope,
        },
    )
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise PlatformUnreachable(f"{platform.auth_token_url} gave no access token")
    lifetime = answer.get("expires_in", 3600)
    lifetime = lifetime if isinstance(lifetime, int | float) and lifetime > 0 else 3600
    with _lock:
        _cache[key] = (token, time.monotonic() + max(0.0, float(lifetime) - 60))
    return token


def forget(platform: LtiPlatform) -> None:
    """After the platform refused a token (401): the next call asks for a new one."""
    with _lock:
        for key in [key for key in _cache if key[0] == platform.id]:
            _cache.pop(key, None)
