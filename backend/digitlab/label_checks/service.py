"""Label checks: queue one, read its state, and give out a label's samples most suspicious first."""

from sqlmodel import Session, col, select

from digitlab.core.db import stored_id
from digitlab.core.errors import conflict, invalid, not_found
from digitlab.datasets.tables import Cell
from digitlab.jobs import service as jobs_service
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.tables import Job, JobStatus
from digitlab.label_checks.schemas import LabelCheckPublic, SampleScorePublic
from digitlab.label_checks.tables import LabelCheck, SampleScore
from digitlab.ml import label_quality
from digitlab.ml.data import DatasetTooSmall, check_label_counts
from digitlab.projects.tables import Project
from digitlab.training import service as training_service

KIND = "label_check"
KEPT_CHECKS = 5  # a project's checks listed (older ones are deleted when a newer one finishes anyway)


def start(session: Session, runner: JobRunner, project: Project) -> LabelCheck:
    """Queue a check of the project's included samples; a check that is already waiting or running is
    returned instead of a second one."""
    pending = session.exec(
        select(LabelCheck)
        .join(Job, col(Job.id) == LabelCheck.job_id)
        .where(LabelCheck.project_id == project.id, col(Job.status).in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        .order_by(col(LabelCheck.id).desc())
    ).first()
    if pending is not None:
        return pending
    try:
        check_label_counts(training_service.label_counts(session, project), project.labels)
    except DatasetTooSmall as exc:
        # The project's state, not the request, is what is wrong (there is no request body): 409.
        raise conflict(f"The dataset is too small to check: {exc}", "dataset_too_small") from None
    job = jobs_service.enqueue(session, runner, project, KIND, {})  # handed to the runner after the commit
    check = LabelCheck(
        project_id=stored_id(project),
        job_id=stored_id(job),
        settings={"folds": label_quality.DEFAULT_FOLDS, "epochs": label_quality.DEFAULT_EPOCHS},
    )
    session.add(check)
    session.flush()
    job.params = {"check_id": check.id}
    session.add(job)
    session.flush()
    return check


def list_checks(session: Session, project: Project) -> list[LabelCheck]:
    """The project's checks, newest first."""
    query = select(LabelCheck).where(LabelCheck.project_id == project.id).order_by(col(LabelCheck.id).desc())
    return list(session.exec(query.limit(KEPT_CHECKS)))


def get_check(session: Session, project: Project, check_id: int) -> LabelCheck:
    check = session.get(LabelCheck, check_id)
    if check is None or check.project_id != project.id:
        raise not_found("Label check")
    return check


def public_list(session: Session, checks: list[LabelCheck]) -> list[LabelCheckPublic]:
    jobs = {job.id: job for job in session.exec(select(Job).where(col(Job.id).in_([c.job_id for c in checks])))}
    return [
        LabelCheckPublic(
            **check.model_dump(),
            status=jobs[check.job_id].status,
            progress=jobs[check.job_id].progress,
            error=jobs[check.job_id].error,
            error_code=jobs[check.job_id].error_code,
            error_params=jobs[check.job_id].error_params,
        )
        for check in checks
        if check.job_id in jobs
    ]


def to_public(session: Session, check: LabelCheck) -> LabelCheckPublic:
    found = public_list(session, [check])
    if not found:  # its job went (they are only deleted together)
        raise not_found("Label check")
    return found[0]


def scores(session: Session, project: Project, check: LabelCheck, label: str | None) -> list[SampleScorePublic]:
    """The samples the check scored (of one label), most suspicious first; a sample relabelled since is left out
    (its score was about the old label)."""
    query = (
        select(SampleScore)
        .join(Cell, col(Cell.id) == SampleScore.cell_id)
        .where(SampleScore.check_id == check.id, col(Cell.label) == col(SampleScore.label))
    )
    if label is not None:
        if label not in project.labels:
            raise invalid(f"'{label}' is not one of this project's labels.", "unknown_label")
        query = query.where(SampleScore.label == label)
    # As the dataset view shows them: the likely label issues first, then the rest, each by quality (the
    # same order as digitlab.ml.label_quality.LabelReport.order).
    order = (col(SampleScore.issue).desc(), col(SampleScore.quality), col(SampleScore.cell_id))
    rows = session.exec(query.order_by(*order)).all()
    return [
        SampleScorePublic(cell_id=row.cell_id, quality=row.quality, suggested=row.suggested, issue=row.issue)
        for row in rows
    ]
