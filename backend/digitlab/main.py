"""The FastAPI application: create_app() wires settings, database, storage and the job runner."""

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from digitlab import __version__
from digitlab.api.docs import install_docs
from digitlab.api.errors import install_error_handlers
from digitlab.api.headers import SecurityHeaders, app_policy
from digitlab.api.limits import BodyLimit, DiskReserveGuard
from digitlab.api.openapi import install_openapi
from digitlab.api.router import add_api_routes
from digitlab.api.timing import ServerTiming
from digitlab.core.config import Settings, get_settings
from digitlab.core.db import open_database
from digitlab.core.ratelimit import RateLimiter
from digitlab.core.storage import DiskReserve, FileStorage
from digitlab.jobs.runner import create_runner
from digitlab.lti.grades import GradeSender
from digitlab.lti.service import PlatformOrigins
from digitlab.privacy.retention import retention_sweeper
from digitlab.quotas import service as quotas_service
from digitlab.web import mount_frontend

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, run_jobs: bool = True) -> FastAPI:
    settings = settings or get_settings()
    # Space kept free for deletions on a full disk (released by DiskReserveGuard when the disk fills up).
    reserve = DiskReserve(settings.data_dir / ".disk-reserve", settings.disk_reserve_bytes)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = open_database(settings)
        app.state.settings = settings
        app.state.engine = engine
        app.state.storage = FileStorage(settings.files_dir)
        app.state.storage.clean_staging()  # uploads a killed server was receiving
        reserve.take()
        app.state.limiter = RateLimiter(settings.resolved_rate_limit_storage_url)  # logins, registrations
        app.state.runner = create_runner(settings, engine)
        app.state.lti_origins = PlatformOrigins(engine)  # who may frame the app (CSP frame-ancestors)
        # Deletes classes' data past their delete_after, in both job backends (digitlab.privacy.retention).
        retention = retention_sweeper(settings, engine, app.state.storage, app.state.runner)
        grades = GradeSender(engine)  # LTI scores to the learning platforms, from a durable outbox
        if run_jobs:
            app.state.runner.start()
            retention.start()
            grades.start()
        try:
            yield
        finally:
            if run_jobs:
                grades.stop()
                retention.stop()
                app.state.runner.stop()
            engine.dispose()

    app = FastAPI(
        title="Digit Lab",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description="From scans of handwritten digits to a trained network you can watch think.",
    )
    add_api_routes(app)
    install_error_handlers(app)

    @app.get("/api/health", tags=["meta"])
    def health() -> dict:
        """The service is up. `storage.low` says the data folder's disk is almost full: uploads and imports are
        refused (507) until space is freed; deleting keeps working."""
        disk = quotas_service.disk_status(settings, app.state.storage)
        body = {"status": "ok", "version": __version__, "storage": {"low": disk.low}}
        if disk.low:
            body["warnings"] = ["Disk space is low: uploads are refused until space is freed."]
        return body

    app.add_middleware(DiskReserveGuard, reserve=reserve)
    app.add_middleware(BodyLimit, settings=settings)  # body caps, enforced while bodies stream in
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
            expose_headers=["Retry-After"],  # the web app tells a student how long to wait
        )
    install_openapi(app)  # one error shape, every status, media types (digitlab.api.openapi)
    install_docs(app)  # /docs and /redoc with their scripts from this package, not a CDN
    web = mount_frontend(app, settings.frontend_dir)  # the web app's public files (after the API routes)
    script_hashes = web.script_hashes if web else ()

    def policy() -> str:
        origins = getattr(app.state, "lti_origins", None)
        return app_policy(script_hashes, origins() if origins else ())

    app.add_middleware(SecurityHeaders, policy=policy)
    app.add_middleware(ServerTiming)  # outermost: the whole time the service spends on a request

    return app
