"""Checks of a launch's id_token exactly as the IMS Security Framework (1.0, section 5.1.3) and LTI 1.3 (5.3)
say, with PyJWT doing every signature check. Each failure is a LaunchRefused with a sentence for the person
who clicked and a code for the logs and tests; nothing here writes to the database.
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import RSAAlgorithm

from digitlab.lti.outbound import PlatformUnreachable, request_json

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
MESSAGE_TYPES = {RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST}
LTI_VERSION = "1.3.0"
# Asymmetric algorithms only: "none" and HMAC (which a forger could "sign" with the public key) never pass.
ACCEPTED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
CLOCK_SKEW_SECONDS = 60
MAX_TOKEN_AGE_SECONDS = 3600  # an id_token issued longer ago than this is refused even if `exp` is later
JWKS_MAX_AGE_SECONDS = 3600
JWKS_REFETCH_INTERVAL_SECONDS = 5  # an unknown kid refetches at most this often (a flood of bad tokens)


class LaunchRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _CachedKeys:
    keys: dict[str, dict[str, Any]]
    fetched: float


class JwksCache:
    """Platform key sets by URL, fetched with httpx, kept JWKS_MAX_AGE_SECONDS, refetched at once when a token
    names a kid the cached set does not have. In memory per process: a key set is public and small."""

    def __init__(self, fetch: Callable[[str], Any] | None = None) -> None:
        self._fetch = fetch or (lambda url: request_json("GET", url)[0])
        self._cache: dict[str, _CachedKeys] = {}
        self._lock = threading.Lock()

    def _load(self, url: str) -> _CachedKeys:
        try:
            document = self._fetch(url)
        except PlatformUnreachable as exc:
            raise LaunchRefused(
                "jwks_unavailable",
                "The learning platform's keys could not be fetched, so the launch cannot be checked. "
                "Please try again in a moment.",
            ) from exc
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            raise LaunchRefused("jwks_unavailable", "The learning platform's key set is not a valid JWKS.")
        entry = _CachedKeys(
            {k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)}, time.monotonic()
        )
        with self._lock:
            self._cache[url] = entry
        return entry

    def key(self, url: str, kid: str) -> dict[str, Any]:
        with self._lock:
            entry = self._cache.get(url)
        now = time.monotonic()
        if entry is None or now - entry.fetched > JWKS_MAX_AGE_SECONDS:
            entry = self._load(url)
        if kid not in entry.keys and now - entry.fetched >= JWKS_REFETCH_INTERVAL_SECONDS:
            entry = self._load(url)  # the platform rotated its keys
        if kid not in entry.keys:
            raise LaunchRefused(
                "unknown_kid", "The launch was signed with a key the learning platform does not publish."
            )
        return entry.keys[kid]

    def forget(self, url: str) -> None:
        with self._lock:
            self._cache.pop(url, None)


def unverified_parts(id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) before any check: only to find the platform and its key."""
    try:
        header = jwt.get_unverified_header(id_token)
        claims = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise LaunchRefused("malformed_token", "The launch did not carry a readable id_token.") from exc
    if not isinstance(claims, dict):
        raise LaunchRefused("malformed_token", "The launch did not carry a readable id_token.")
    return header, claims


def audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        return aud
    return []


def verify_id_token(
    id_token: str, *, issuer: str, client_id: str, platform_key: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """Signature, iss, aud/azp, exp/iat with CLOCK_SKEW_SECONDS, and the LTI claims every launch must carry.
    The nonce, state and deployment are checked by the caller (they need the database)."""
    header = jwt.get_unverified_header(id_token)
    algorithm = header.get("alg")
    if algorithm not in ACCEPTED_ALGORITHMS:
        raise LaunchRefused("bad_algorithm", f"The launch was signed with {algorithm!r}, which is not accepted.")
    if platform_key.get("alg") not in (None, algorithm):
        raise LaunchRefused("bad_algorithm", "The launch's algorithm does not match the platform's key.")
    try:
        public_key = RSAAlgorithm.from_jwk(platform_key)
    except (jwt.InvalidKeyError, ValueError, KeyError) as exc:
        raise LaunchRefused("bad_key", "The learning platform published a key that cannot be used.") from exc
    try:
        claims = jwt.decode(
            id_token,
            public_key,  # type: ignore[arg-type]
            algorithms=[algorithm],
            audience=client_id,
            issuer=issuer,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise LaunchRefused("expired", "The launch has expired. Please start it again from the course.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise LaunchRefused(
            "issued_in_future", "The launch says it was issued in the future: check the clocks."
        ) from exc
    except jwt.InvalidAudienceError as exc:
        raise LaunchRefused("wrong_audience", "The launch was meant for another tool.") from exc
    except jwt.InvalidIssuerError as exc:
        raise LaunchRefused("wrong_issuer", "The launch does not come from the platform it names.") from exc
    except jwt.InvalidSignatureError as exc:
        raise LaunchRefused("bad_signature", "The launch's signature is not valid.") from exc
    except jwt.InvalidTokenError as exc:
        raise LaunchRefused("invalid_token", f"The launch's id_token is not valid ({exc}).") from exc
    now = time.time() if now is None else now
    if claims["iat"] < now - MAX_TOKEN_AGE_SECONDS:
        raise LaunchRefused("expired", "The launch is too old. Please start it again from the course.")
    auds = audiences(claims)
    azp = claims.get("azp")
    if (len(auds) > 1 and azp is None) or (azp is not None and azp != client_id):
        raise LaunchRefused("wrong_audience", "The launch was meant for another tool (azp).")
    _check_lti_claims(claims)
    return claims


def _check_lti_claims(claims: dict[str, Any]) -> None:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise LaunchRefused("missing_sub", "The launch does not say who you are (no subject).")
    message_type = claims.get(LTI + "message_type")
    if message_type not in MESSAGE_TYPES:
        raise LaunchRefused("wrong_message_type", f"Digit Lab cannot handle a launch of type {message_type!r}.")
    if claims.get(LTI + "version") != LTI_VERSION:
        raise LaunchRefused("wrong_version", "The launch is not LTI 1.3.0.")
    deployment = claims.get(LTI + "deployment_id")
    if not isinstance(deployment, str) or not deployment or len(deployment) > 255:
        raise LaunchRefused("unknown_deployment", "The launch does not name a deployment.")
    roles = claims.get(LTI + "roles")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise LaunchRefused("bad_claims", "The launch does not list the user's roles.")
    if message_type == RESOURCE_LINK_REQUEST:
        link = claims.get(LTI + "resource_link")
        if not isinstance(link, dict) or not isinstance(link.get("id"), str) or not link["id"]:
            raise LaunchRefused("bad_claims", "The launch does not name its resource link.")
    else:
        settings = claims.get(DEEP_LINKING + "deep_linking_settings")
        return_url = settings.get("deep_link_return_url") if isinstance(settings, dict) else None
        if not isinstance(return_url, str) or not return_url.startswith(("https://", "http://")):
            raise LaunchRefused("bad_claims", "The deep-linking request has no valid return address.")
    context = claims.get(LTI + "context")
    if not isinstance(context, dict) or not isinstance(context.get("id"), str) or not context["id"]:
        raise LaunchRefused("missing_context", "Digit Lab must be launched from inside a course.")


# Roles (LTI 1.3 appendix A): context roles in full, and the short forms platforms also send.
TEACHING_ROLES = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#Administrator",
    "Instructor",
    "Administrator",
)


def is_teaching(roles: list[str]) -> bool:
    """Instructors and administrators teach the class; everyone else (learners, mentors ...) is a student."""
    return any(role in TEACHING_ROLES for role in roles)
