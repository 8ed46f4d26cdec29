"""Password hashing (argon2 via pwdlib) and opaque bearer tokens stored only as hashes."""

import hashlib
import secrets

from pwdlib import PasswordHash

_password_hash = PasswordHash.recommended()

TOKEN_PREFIX = "dl_"


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _password_hash.verify(password, password_hash)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is safe here (unlike passwords).
    return hashlib.sha256(token.encode()).hexdigest()
