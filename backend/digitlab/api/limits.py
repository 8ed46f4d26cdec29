"""Request body caps and the disk reserve, as ASGI middleware (before any route, parser or dependency runs).

Body caps: every request body is counted while it streams in, whether or not it declares a Content-Length
(chunked bodies) and whatever that header claims; past the route's cap the request is answered 413 in the
one error shape (code request_too_large) without reading further, and a declared length over the cap is
refused before a byte is read. JSON and every other body get settings.max_body_bytes; the routes that
receive files have their own, larger caps (UPLOAD_CAPS). FastAPI's own max_body_size answers text/plain
413s for routes that never read their body, hence this middleware.

Disk reserve: a request that frees space (a deletion) or that a student needs in order to reach one (logging
in) releases the reserve first when the disk is nearly full, so that the database can commit; after a
deletion the reserve is taken again once there is room (digitlab.core.storage.DiskReserve).
"""

import json
import re
from collections.abc import Callable

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digitlab.core.config import Settings
from digitlab.core.storage import DiskReserve

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file of a one-file upload
MAX_DRAWING_REQUEST_BYTES = 5 * 1024 * 1024 + MULTIPART_OVERHEAD  # predict: one drawing (networks router)

# (method, path pattern, cap) of the routes whose bodies are files.
UPLOAD_CAPS: list[tuple[str, re.Pattern, Callable[[Settings], int]]] = [
    ("POST", re.compile(r"/api/projects/[^/]+/scans/?"), lambda s: s.max_upload_request_bytes),
    ("POST", re.compile(r"/api/classes/[^/]+/bulk-scans/?"), lambda s: s.max_upload_request_bytes),
    ("POST", re.compile(r"/api/projects/[^/]+/dataset/import/?"), lambda s: s.max_import_bytes + MULTIPART_OVERHEAD),
    ("POST", re.compile(r"/api/projects/[^/]+/trainings/[^/]+/predict/?"), lambda s: MAX_DRAWING_REQUEST_BYTES),
]

# Requests that free space, or that a student needs to reach one, on a full disk.
FREES_SPACE = [("DELETE", re.compile(r"/api/.*")), ("POST", re.compile(r"/api/auth/login/?"))]


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.0f} MB"
    return f"{max(1, size // 1024)} KB"


def body_cap(settings: Settings, method: str, path: str) -> int:
    for route_method, pattern, cap in UPLOAD_CAPS:
        if method == route_method and pattern.fullmatch(path):
            return cap(settings)
    return settings.max_body_bytes


class BodyTooLarge(HTTPException):
    """Raised from receive() when the body passes its cap; a Starlette HTTPException, so that FastAPI's body
    reading lets it through to the error handlers (which answer in the one shape)."""

    code = "request_too_large"

    def __init__(self, limit: int):
        super().__init__(413, f"The request is larger than the limit of {size_text(limit)} for this route.")
        self.limit = limit


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": BodyTooLarge(limit).detail, "code": BodyTooLarge.code, "limit_bytes": limit}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )  # the rest of the body is never read
    await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimit:
    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_cap(self.settings, scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _send_too_large(send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:  # read outside a route (no handler saw it): answer here
            if started:
                raise
            await _send_too_large(send, limit)


class DiskReserveGuard:
    def __init__(self, app: ASGIApp, reserve: DiskReserve):
        self.app = app
        self.reserve = reserve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        frees = scope["type"] == "http" and any(
            scope["method"] == method and pattern.fullmatch(scope["path"]) for method, pattern in FREES_SPACE
        )
        if frees and self.reserve.low():
            self.reserve.release()
        await self.app(scope, receive, send)
        if frees and scope["method"] == "DELETE" and self.reserve.size and not self.reserve.held:
            await anyio.to_thread.run_sync(self.reserve.take)  # once the deletion left room for it
