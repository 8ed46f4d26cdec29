"""Serves the web app (frontend/) and its vendored npm files from the API process, so the embedded default
needs no second server. The frontend also works from any static server (frontend/nginx.conf serves the same
files in the scaled-out deployment).

Only an explicit list of public files is served, built from frontend/ at start: index.html, styles.css, the
app's modules (src/**/*.js) and the few browser files of the vendored packages. A request names one of them
exactly or gets a 404, whatever its dots, slashes or percent-encoding: nothing else in frontend/ (package.json,
nginx.conf, node_modules, build scripts) can be reached.
"""

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from digitlab.api.headers import inline_script_hashes

# The checkout's frontend/ (backend/digitlab/web.py -> repo root); the frontend_dir setting overrides it.
DEFAULT_FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"

# URL -> file under frontend/: the vendored browser files the app loads (onnxruntime-web's WebAssembly build
# as src/inference/session.js imports it, uPlot as index.html and its import map name it), nothing else.
VENDOR_FILES = {
    "/vendor/ort/ort.wasm.min.mjs": "node_modules/onnxruntime-web/dist/ort.wasm.min.mjs",
    "/vendor/ort/ort-wasm-simd-threaded.mjs": "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
    "/vendor/ort/ort-wasm-simd-threaded.wasm": "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
    "/vendor/uplot/uPlot.esm.js": "node_modules/uplot/dist/uPlot.esm.js",
    "/vendor/uplot/uPlot.min.css": "node_modules/uplot/dist/uPlot.min.css",
}
APP_FILES = ("index.html", "styles.css")

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
}
METHODS = ("GET", "HEAD")


def public_files(root: Path) -> dict[str, Path]:
    """Every URL path the web app may serve -> its file (only files that exist; symlinks out of frontend/
    are left out)."""
    root = root.resolve()
    files: dict[str, Path] = {}

    def add(url: str, path: Path) -> None:
        resolved = path.resolve()
        if resolved.is_file() and resolved.is_relative_to(root) and resolved.suffix in MEDIA_TYPES:
            files[url] = resolved

    for name in APP_FILES:
        add(f"/{name}", root / name)
    if "/index.html" in files:
        files["/"] = files["/index.html"]
    src = root / "src"
    for path in sorted(src.rglob("*.js")) if src.is_dir() else []:
        add("/" + path.relative_to(root).as_posix(), path)
    for url, relative in VENDOR_FILES.items():
        add(url, root / relative)
    return files


class PublicFiles(BaseRoute):
    """One route for all public files: it matches a request only when the path is exactly one of them."""

    def __init__(self, files: dict[str, Path], script_hashes: list[str]) -> None:
        self.files = files
        self.script_hashes = script_hashes  # CSP hashes of index.html's inline scripts (the import map)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :] or "/"
        if path not in self.files:
            return Match.NONE, {}
        return (Match.FULL if scope["method"] in METHODS else Match.PARTIAL), {"public_file": self.files[path]}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in METHODS:
            raise HTTPException(405, "Method Not Allowed", headers={"Allow": ", ".join(METHODS)})
        path: Path = scope["public_file"]
        # no-cache: the browser revalidates, so a new version of the app is picked up at once.
        response = FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # the files have no route name


def mount_frontend(app: FastAPI, frontend_dir: Path | None = None) -> PublicFiles | None:
    """Serve the web app's public files (after all API routes). Without a frontend checkout, "/" leads to the
    API docs and None is returned."""
    root = Path(frontend_dir or DEFAULT_FRONTEND_DIR)
    if not (root / "index.html").is_file():
        app.add_api_route("/", lambda: RedirectResponse("/docs"), include_in_schema=False)
        return None
    route = PublicFiles(public_files(root), inline_script_hashes((root / "index.html").read_text("utf-8")))
    app.router.routes.append(route)
    return route
