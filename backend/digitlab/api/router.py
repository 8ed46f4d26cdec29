"""All REST routers, in the order they appear in the docs."""

from fastapi import APIRouter

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

api_router = APIRouter()
for router in (
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
):
    api_router.include_router(router)
