"""All REST routers, in the order they appear in the docs."""

from fastapi import APIRouter

from digitlab.auth.router import router as auth_router
from digitlab.datasets.router import router as datasets_router
from digitlab.extraction.router import router as extraction_router
from digitlab.jobs.router import router as jobs_router
from digitlab.models.router import router as models_router
from digitlab.projects.router import router as projects_router
from digitlab.scans.router import router as scans_router
from digitlab.training.router import router as training_router

api_router = APIRouter()
for router in (auth_router, projects_router, scans_router, extraction_router, jobs_router, datasets_router,
               training_router, models_router):
    api_router.include_router(router)
