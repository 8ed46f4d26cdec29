"""Domain errors: what went wrong, in a sentence for a student and a machine `code` for clients.

Services, jobs and the pipeline raise these; they know nothing of HTTP. The web layer maps each kind to a
status in one handler (digitlab.api.errors), so the same error reads the same in a worker's job result.
"""

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    NOT_AUTHENTICATED = "not_authenticated"  # no valid login
    FORBIDDEN = "forbidden"  # logged in, but this is not allowed for you
    NOT_FOUND = "not_found"  # also the answer for other users' things: we never reveal that they exist
    INVALID = "invalid"  # the request is understood but its content makes no sense
    CONFLICT = "conflict"  # clashes with the current state (a duplicate, a training still running)
    TOO_LARGE = "too_large"  # over a size, pixel, page or count limit
    UNSUPPORTED = "unsupported"  # a file type we cannot read
    RATE_LIMITED = "rate_limited"  # too many attempts: wait and try again
    QUOTA_EXCEEDED = "quota_exceeded"  # the user's or class's storage is full
    INSUFFICIENT_STORAGE = "insufficient_storage"  # the server's disk is full


class DomainError(Exception):
    """An error a user can act on. `code` is a stable machine word; `detail` a sentence; `extra` more fields
    of the JSON answer (e.g. the layer that is wrong); `retry_after` seconds for rate limits."""

    def __init__(
        self, kind: ErrorKind, detail: str, code: str | None = None, *, retry_after: int | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.code = code or kind.value
        self.retry_after = retry_after
        self.extra = extra


def not_found(what: str) -> DomainError:
    return DomainError(ErrorKind.NOT_FOUND, f"{what} not found.", "not_found")


def invalid(detail: str, code: str = "invalid", **extra: Any) -> DomainError:
    return DomainError(ErrorKind.INVALID, detail, code, **extra)


def conflict(detail: str, code: str = "conflict", **extra: Any) -> DomainError:
    return DomainError(ErrorKind.CONFLICT, detail, code, **extra)


def too_large(detail: str, code: str = "too_large", **extra: Any) -> DomainError:
    return DomainError(ErrorKind.TOO_LARGE, detail, code, **extra)


def unsupported(detail: str, code: str = "unsupported_media_type", **extra: Any) -> DomainError:
    return DomainError(ErrorKind.UNSUPPORTED, detail, code, **extra)


def not_authenticated(detail: str = "Please log in first.", code: str = "not_authenticated") -> DomainError:
    return DomainError(ErrorKind.NOT_AUTHENTICATED, detail, code)
