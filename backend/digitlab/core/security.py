"""Password hashing (argon2 via pwdlib) and opaque bearer tokens stored only as hashes."""

import hashlib
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# Argon2id with OWASP's recommended minimum (19 MiB, 2 iterations, 1 lane): ~25 ms a hash here, so a class
# logging in at once does not starve everyone else's requests. Hashes record their parameters, so these can
# be raised later without breaking existing passwords.
_password_hash = PasswordHash((Argon2Hasher(time_cost=2, memory_cost=19456, parallelism=1),))

TOKEN_PREFIX = "dl_"

# Password work (hashing, checking, judging strength) is CPU-bound and releases the GIL: thirty students who
# join at once would otherwise take every core, and every other request of the lesson would wait behind them.
# At most all cores but one do it at a time; the others queue here, before they touch the database (requests
# wait for their turn before that, holding no worker thread: api/turns.py).
PASSWORD_WORKERS = max(1, (os.cpu_count() or 2) - 1)
_password_work = threading.BoundedSemaphore(PASSWORD_WORKERS)


@contextmanager
def password_work() -> Iterator[None]:
    with _password_work:
        yield


def hash_password(password: str) -> str:
    with password_work():
        return _password_hash.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    with password_work():
        return _password_hash.verify(password, password_hash)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is safe here (unlike passwords).
    return hashlib.sha256(token.encode()).hexdigest()
