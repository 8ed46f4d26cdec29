"""Imports every table module so SQLModel.metadata knows them all (for migrations and tests)."""

from digitlab.auth.tables import AuthToken, User  # noqa: F401
from digitlab.challenges.tables import Challenge, ChallengeSample, ChallengeScore, ChallengeSheet  # noqa: F401
from digitlab.class_datasets.tables import ClassDataset, ClassSample, OtherWritersEvaluation  # noqa: F401
from digitlab.class_scans.tables import UnassignedPage  # noqa: F401
from digitlab.classes.tables import ClassMember, JoinCode, SchoolClass, TeacherInvite  # noqa: F401
from digitlab.datasets.tables import Cell, DatasetImport  # noqa: F401
from digitlab.jobs.tables import Job  # noqa: F401
from digitlab.label_checks.tables import LabelCheck, SampleScore  # noqa: F401
from digitlab.lti.tables import (  # noqa: F401
    LtiActivity,
    LtiActivityProject,
    LtiContext,
    LtiDeepLink,
    LtiDeployment,
    LtiGradeOutbox,
    LtiKey,
    LtiLaunchCode,
    LtiNonce,
    LtiPlatform,
    LtiRegistrationLink,
    LtiUser,
)
from digitlab.projects.tables import Project  # noqa: F401
from digitlab.scans.tables import Scan  # noqa: F401
from digitlab.sheets.tables import ServerSecret  # noqa: F401
from digitlab.training.tables import Training, TrainingEvent  # noqa: F401
