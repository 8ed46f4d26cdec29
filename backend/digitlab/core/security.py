"""Password hashing (argon2 via pwdlib) and opaque bearer tokens stored only as hashes."""

import hashlib
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# Argon2id with OWASP's recommended minimum (19 MiB, 2 iterations, 1 lane): ~25 ms a hash here, so a class
# logging in at once does not starve everyone else's requests. Hashes record their parameters, so these can
# be raised later without breaking existing passwords.
_password_hash = PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1),))

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
