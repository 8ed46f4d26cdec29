"""Imports every table module so SQLModel.metadata knows them all (for migrations and tests)."""

from digitlab.auth.models import AuthToken, User  # noqa: F401
from digitlab.datasets.models import Cell  # noqa: F401
from digitlab.jobs.models import Job  # noqa: F401
from digitlab.projects.models import Project  # noqa: F401
from digitlab.scans.models import Scan  # noqa: F401
from digitlab.training.models import Training, TrainingEvent  # noqa: F401
