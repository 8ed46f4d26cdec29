"""The tool's own RSA keys: the JWKS it publishes, signing, rotation.

The newest unretired key signs (client assertions for the platform's token endpoint, deep-linking answers, the
`state` of a login). Rotating makes a new key the signer and retires the old one, which stays in the JWKS for
KEY_OVERLAP (longer than anything signed with it lives, and than platforms cache our key set) and is then
deleted. Private keys stay in the database; nothing here returns them.
"""

import json
import secrets
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlmodel import Session, col, delete, select

from digitlab.core.clock import utcnow
from digitlab.lti.tables import LtiKey

SIGNING_ALGORITHM = "RS256"  # what LTI 1.3 requires every party to support
KEY_BITS = 2048
# A retired key stays published this long: our tokens live minutes, platforms cache key sets for hours.
KEY_OVERLAP = timedelta(days=2)


def _new_key() -> LtiKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    kid = secrets.token_urlsafe(16)
    public_jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public_jwk.pop("key_ops", None)  # `use` says it (RFC 7517 4.3: not both)
    public_jwk |= {"kid": kid, "alg": SIGNING_ALGORITHM, "use": "sig"}
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return LtiKey(kid=kid, private_pem=pem, public_jwk=json.dumps(public_jwk))


def signing_key(session: Session) -> LtiKey:
    """The key that signs now (made at first use)."""
    key = session.exec(select(LtiKey).where(col(LtiKey.retired_at).is_(None)).order_by(col(LtiKey.id).desc())).first()
    if key is None:
        key = _new_key()
        session.add(key)
        session.flush()
    return key


def published_keys(session: Session) -> list[LtiKey]:
    """Every key a token of ours may still carry: the signer and the retired keys not yet dropped."""
    now = utcnow()
    keys = session.exec(select(LtiKey).order_by(col(LtiKey.id))).all()
    return [key for key in keys if key.drop_after is None or key.drop_after > now]


def jwks(session: Session) -> dict[str, Any]:
    signing_key(session)  # a fresh instance publishes its first key before anyone needs it
    return {"keys": [json.loads(key.public_jwk) for key in published_keys(session)]}


def rotate(session: Session) -> LtiKey:
    """A new signing key; the previous ones retire (published for KEY_OVERLAP more). Keys past their overlap
    are deleted."""
    now = utcnow()
    for key in session.exec(select(LtiKey).where(col(LtiKey.retired_at).is_(None))).all():
        key.retired_at, key.drop_after = now, now + KEY_OVERLAP
        session.add(key)
    session.exec(delete(LtiKey).where(col(LtiKey.drop_after) <= now))
    key = _new_key()
    session.add(key)
    session.flush()
    return key


def sign(session: Session, claims: dict[str, Any]) -> str:
    key = signing_key(session)
    return jwt.encode(claims, key.private_pem, algorithm=SIGNING_ALGORITHM, headers={"kid": key.kid})


def verify_own(session: Session, token: str, audience: str | None = None) -> dict[str, Any]:
    """The claims of a token we signed ourselves (the login `state`); raises jwt.InvalidTokenError."""
    kid = jwt.get_unverified_header(token).get("kid")
    key = next((key for key in published_keys(session) if key.kid == kid), None)
    if key is None:
        raise jwt.InvalidKeyError("not one of our keys")
    public = RSAAlgorithm.from_jwk(key.public_jwk)
    return jwt.decode(
        token,
        public,  # type: ignore[arg-type]
        algorithms=[SIGNING_ALGORITHM],
        audience=audience,
        options={"require": ["exp", "iat"], "verify_aud": audience is not None},
    )
