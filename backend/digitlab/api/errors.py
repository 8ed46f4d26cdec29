"""The one place where errors become HTTP answers, all in one JSON shape:
{"detail": "<a sentence for a student>", "code": "<machine word>", ...more fields of the error}.

Services, jobs and the pipeline raise digitlab.core.errors.DomainError and know nothing of HTTP; the status of
each kind of error is decided here, and create_app installs these handlers.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from digitlab.api.methods import allowed_methods
from digitlab.core.errors import DomainError, ErrorKind

STATUS: dict[ErrorKind, int] = {
    ErrorKind.NOT_AUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.INVALID: 422,
    ErrorKind.CONFLICT: 409,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNSUPPORTED: 415,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.QUOTA_EXCEEDED: 413,
    ErrorKind.INSUFFICIENT_STORAGE: 507,
}

log = logging.getLogger(__name__)

# Starlette's own errors (an unknown path, a wrong method) get a code too.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}


def error_response(
    status_code: int, detail: str, code: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code, **extra}, status_code=status_code, headers=headers)


async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return error_response(STATUS[exc.kind], exc.detail, exc.code, headers, **exc.extra)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400:
        # FastAPI's "There was an error parsing the body" (not UTF-8, not decodable): a malformed request like
        # invalid JSON, with the same answer.
        return error_response(422, "The request body could not be read.", "malformed_body")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))  # not only the first route's
    # An HTTPException of ours may name its code (api.limits.BodyTooLarge: request_too_large).
    code = getattr(exc, "code", None) or _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, exc.detail, code, headers or None)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors: list[dict[str, Any]] = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    if any(e["loc"][0] == "path" for e in errors):  # whatever else is wrong: the path names nothing
        # DELETE /api/auth/sessions/end-others, PATCH /api/classes/join: that path is a route, but for other
        # methods only.
        if allowed := allowed_methods(request.app, request.scope):
            return error_response(405, "Method Not Allowed", "method_not_allowed", {"Allow": ", ".join(allowed)})
        # /api/projects/abc or an id beyond any real one: there is no such thing.
        return error_response(404, "Not found.", "not_found")
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(422, "The request body is not valid JSON.", "malformed_json", errors=errors)
    first: dict[str, Any] = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    first["msg"] = first["msg"].removeprefix("Value error, ")
    where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
    return error_response(422, f"{where}: {first['msg']}", "validation_error", errors=errors)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug of ours: the trace goes to the log, the client gets the one error shape. The server closes the
    connection after a 500, so the answer says so (a client must not reuse it)."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500,
        "Something went wrong on the server. Please try again in a moment.",
        "internal_error",
        {"Connection": "close"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, server_error)
    app.add_exception_handler(DomainError, domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
