"""One JSON error shape for every 4xx: {"detail": "<sentence>", "code": "<machine word>"}."""

from fastapi import HTTPException


class ApiError(HTTPException):
    def __init__(self, status_code: int, detail: str, code: str, **extra):
        super().__init__(status_code=status_code, detail=detail)
        self.code = code
        self.extra = extra


def not_found(what: str) -> ApiError:
    # Also the answer for another user's objects: we never reveal that they exist.
    return ApiError(404, f"{what} not found.", "not_found")


def conflict(detail: str, code: str = "conflict", **extra) -> ApiError:
    return ApiError(409, detail, code, **extra)


def invalid(detail: str, code: str = "invalid", **extra) -> ApiError:
    return ApiError(422, detail, code, **extra)
