"""The FastAPI application: create_app() wires settings, database, storage and the job runner."""

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from digitlab import __version__
from digitlab.api.errors import ApiError
from digitlab.api.router import api_router
from digitlab.core.config import Settings, get_settings
from digitlab.core.db import make_engine, migrate
from digitlab.core.storage import FileStorage
from digitlab.jobs.runner import create_runner
from digitlab.web import mount_frontend

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, run_jobs: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        app.state.settings = settings
        app.state.engine = engine
        app.state.storage = FileStorage(settings.files_dir)
        app.state.runner = create_runner(settings, engine)
        if run_jobs:
            app.state.runner.start()
        try:
            yield
        finally:
            if run_jobs:
                app.state.runner.stop()
            engine.dispose()

    app = FastAPI(title="Digit Lab", version=__version__, lifespan=lifespan,
                  description="From scans of handwritten digits to a trained network you can watch think.")
    app.include_router(api_router)
    _install_error_handlers(app)

    @app.get("/api/health", tags=["meta"])
    def health() -> dict:
        return {"status": "ok", "version": __version__}

    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"],
                           allow_headers=["Authorization", "Content-Type"])
    mount_frontend(app, settings.frontend_dir)  # the web app at "/" (last: API routes take precedence)

    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail, "code": exc.code, **exc.extra}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}
        return JSONResponse({"detail": exc.detail, "code": codes.get(exc.status_code, "http_error")},
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        if errors and all(e["loc"][0] == "path" for e in errors):
            # /api/projects/abc or an id beyond any real one: there is no such thing.
            return JSONResponse({"detail": "Not found.", "code": "not_found"}, status_code=404)
        if any(e["type"] == "json_invalid" for e in errors):
            return JSONResponse({"detail": "The request body is not valid JSON.", "code": "malformed_json",
                                 "errors": errors}, status_code=422)
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        first["msg"] = first["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
        return JSONResponse({"detail": f"{where}: {first['msg']}", "code": "validation_error", "errors": errors},
                            status_code=422)
