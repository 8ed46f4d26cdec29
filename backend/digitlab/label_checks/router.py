from typing import Annotated

from fastapi import APIRouter, Query, status

from digitlab.api.deps import Id, ProjectDep, ReadableProjectDep, RunnerDep, SessionDep
from digitlab.core.text import SafeStr
from digitlab.label_checks import service
from digitlab.label_checks.schemas import LabelCheckPublic, SampleScorePublic

router = APIRouter(prefix="/api/projects/{project_id}/label-checks", tags=["label checks"])


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=LabelCheckPublic)
def start_label_check(project: ProjectDep, session: SessionDep, runner: RunnerDep):
    """Queue a check of the project's labels: a few small networks, each trained on all samples but a fold
    and judging that fold, score every included sample by how well its label fits. A check already waiting
    or running is returned instead of a second one."""
    return service.to_public(session, service.start(session, runner, project))


@router.get("", response_model=list[LabelCheckPublic])
def list_label_checks(project: ReadableProjectDep, session: SessionDep):
    """The project's label checks, newest first (only the newest finished one keeps its scores)."""
    return service.public_list(session, service.list_checks(session, project))


@router.get("/{check_id}", response_model=LabelCheckPublic)
def get_label_check(project: ReadableProjectDep, check_id: Id, session: SessionDep):
    return service.to_public(session, service.get_check(session, project, check_id))


@router.get("/{check_id}/scores", response_model=list[SampleScorePublic])
def label_scores(
    project: ReadableProjectDep,
    check_id: Id,
    session: SessionDep,
    label: Annotated[SafeStr | None, Query(max_length=16, description="Only this label's samples")] = None,
):
    """The scored samples (of one label), most suspicious first: the likely label issues, then the rest, each by
    quality. Samples relabelled since the check are left out."""
    return service.scores(session, project, service.get_check(session, project, check_id), label)
