"""Serves the web app (frontend/) and its vendored npm files from the API process, so the embedded
default needs no second server. The frontend also works from any static server (API base URL setting)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

# The checkout's frontend/ (backend/digitlab/web.py -> repo root); the frontend_dir setting overrides it.
DEFAULT_FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"

# Only the browser files of these packages are served, never the rest of node_modules.
VENDOR = {
    "ort": "onnxruntime-web/dist",
    "uplot": "uplot/dist",
}


class _AppFiles(StaticFiles):
    """frontend/ as static files, minus the build tooling that lives next to it."""

    HIDDEN = ("node_modules", "package.json", "package-lock.json", "scripts", "nginx.conf")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # no WebSocket lives here: refuse instead of StaticFiles' assertion
            await send({"type": "websocket.close", "code": 1000})
            return
        first = scope.get("path", "/").lstrip("/").split("/", 1)[0]
        if scope["type"] == "http" and first in self.HIDDEN:
            scope = {**scope, "path": "/__hidden__"}  # answers 404 like any missing file
        await super().__call__(scope, receive, send)


def mount_frontend(app: FastAPI, frontend_dir: Path | None = None) -> bool:
    """Mount the app at "/" (after all API routes). Without a frontend checkout, "/" leads to the API docs
    and False is returned."""
    root = Path(frontend_dir or DEFAULT_FRONTEND_DIR)
    if not (root / "index.html").is_file():
        app.add_api_route("/", lambda: RedirectResponse("/docs"), include_in_schema=False)
        return False
    for name, sub in VENDOR.items():
        folder = root / "node_modules" / sub
        if folder.is_dir():
            app.mount(f"/vendor/{name}", StaticFiles(directory=folder), name=f"vendor-{name}")
    app.mount("/", _AppFiles(directory=root, html=True), name="frontend")
    return True
