"""All REST routes, in the order they appear in the docs."""

from fastapi import APIRouter, FastAPI

from digitlab.auth.router import admin_router
from digitlab.auth.router import router as auth_router
from digitlab.challenges.router import router as challenges_router
from digitlab.class_datasets.router import router as class_datasets_router
from digitlab.class_scans.router import router as class_scans_router
from digitlab.classes.router import join_router
from digitlab.classes.router import router as classes_router
from digitlab.datasets.router import router as datasets_router
from digitlab.extraction.router import router as extraction_router
from digitlab.jobs.router import router as jobs_router
from digitlab.label_checks.router import router as label_checks_router
from digitlab.lti.router import router as lti_router
from digitlab.networks.router import router as networks_router
from digitlab.privacy.router import router as privacy_router
from digitlab.projects.router import router as projects_router
from digitlab.roster.router import router as roster_router
from digitlab.scans.router import router as scans_router
from digitlab.training.router import router as training_router

# In the order they appear in the docs (the order requests are matched in, too).
FEATURE_ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    admin_router,
    classes_router,
    join_router,
    projects_router,
    scans_router,
    extraction_router,
    jobs_router,
    datasets_router,
    label_checks_router,
    training_router,
    networks_router,
    class_datasets_router,
    challenges_router,
    privacy_router,
    lti_router,
    roster_router,
    class_scans_router,
)


def add_api_routes(app: FastAPI) -> None:
    """Every feature router's routes in one flat table on the app. Not `include_router`: FastAPI 0.16x keeps an
    included router whole and matches each request through it twice, with bookkeeping per route tried; with 18
    routers that was about 40 % of the event loop's time for a small GET (76 route checks for GET /api/projects),
    and a class's burst of clicks queued behind it. A route is complete as declared (its router's prefix, tags and
    responses are applied when it is declared; nothing is added at inclusion), so the table is the same API."""
    for router in FEATURE_ROUTERS:
        app.router.routes.extend(router.routes)
