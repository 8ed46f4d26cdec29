"""Security headers on every HTTP response, in one ASGI middleware.

- Content-Security-Policy: scripts, styles, images and connections from this origin only. The web app's one
  inline script (the import map in index.html) is allowed by its hash, computed from the file at start;
  onnxruntime-web compiles its WebAssembly under 'wasm-unsafe-eval' (no JavaScript eval). A response that
  sets its own policy keeps it (the API docs pages, whose inline scripts are hashed the same way).
  `frame-ancestors 'self'` plus the origins of the learning platforms registered for LTI (they show the app in
  an iframe; no other site may frame it), and `form-action` the same (a deep-linking answer is posted to the
  platform).
- X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer (URLs never leak to other sites).
- Cache-Control: no-store on everything under /api/ (tokens from login, API tokens, students' data) unless a
  route chose its own.
"""

import base64
import hashlib
import re
from collections.abc import Callable, Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc\s*=)[^>]*>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)

API_PREFIX = "/api/"


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') for the inline <script> elements of a page, in order."""
    return [source_hash(body) for body in _INLINE_SCRIPT.findall(html) if body]


def source_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _policy(directives: dict[str, Iterable[str]]) -> str:
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


def app_policy(script_hashes: Iterable[str] = (), platforms: Iterable[str] = ()) -> str:
    """The policy of the web app and of every response that does not set its own. `platforms`: the origins of
    the registered learning platforms, which may frame the app and receive its forms."""
    platforms = list(platforms)
    return _policy(
        {
            "default-src": ["'self'"],
            "script-src": ["'self'", "'wasm-unsafe-eval'", *script_hashes],
            "style-src": ["'self'"],
            # data: for the samples' 28x28 PNGs in JSON, blob: for images fetched with the bearer token
            "img-src": ["'self'", "data:", "blob:"],
            "connect-src": ["'self'"],
            "worker-src": ["'self'"],
            "object-src": ["'none'"],
            "base-uri": ["'none'"],
            "form-action": ["'self'", *platforms],
            "frame-ancestors": ["'self'", *platforms],
        }
    )


def docs_policy(script_hashes: Iterable[str] = ()) -> str:
    """The API docs pages (Swagger UI, ReDoc): their bundles set inline styles, ReDoc searches in a blob: worker."""
    return _policy(
        {
            "default-src": ["'self'"],
            "script-src": ["'self'", *script_hashes],
            "style-src": ["'self'", "'unsafe-inline'"],
            "img-src": ["'self'", "data:"],
            "font-src": ["'self'", "data:"],
            "connect-src": ["'self'"],
            "worker-src": ["'self'", "blob:"],
            "object-src": ["'none'"],
            "base-uri": ["'none'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'self'"],
        }
    )


class SecurityHeaders:
    """Adds the headers above to every HTTP response (headers a response already has win). `policy` may be a
    function, asked per response (the registered platforms change while the service runs)."""

    def __init__(self, app: ASGIApp, policy: str | Callable[[], str]) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope.get("path", "")).startswith(API_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                policy = self.policy if isinstance(self.policy, str) else self.policy()
                headers.setdefault("Content-Security-Policy", policy)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if no_store:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
