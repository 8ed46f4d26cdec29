"""Evaluation "on other writers": a student's network tested on the class data set's samples of everyone else,
next to its accuracy on the student's own test split. The gap is the lesson on generalisation."""

from sqlmodel import Session, select

from digitlab.auth.tables import User
from digitlab.class_datasets import service
from digitlab.class_datasets.schemas import LabelScore, OtherWritersPublic, WeakSpot, WriterScore
from digitlab.class_datasets.tables import OtherWritersEvaluation
from digitlab.core.clock import utcnow
from digitlab.core.db import stored_id
from digitlab.core.errors import conflict, not_found
from digitlab.jobs import service as jobs_service
from digitlab.jobs.reason import Reason
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.tables import FINISHED_STATES, Job, JobStatus
from digitlab.projects.tables import Project
from digitlab.training import service as training_service

KIND = "other_writers"
JOB_DELETED_REASON = Reason("evaluation_job_deleted", "The evaluation's job was deleted.")


def _evaluation(session: Session, class_id: int, training_id: int) -> OtherWritersEvaluation | None:
    return session.exec(
        select(OtherWritersEvaluation).where(
            OtherWritersEvaluation.class_id == class_id, OtherWritersEvaluation.training_id == training_id
        )
    ).first()


def request(session: Session, runner: JobRunner, user: User, class_id: int, training_id: int) -> OtherWritersPublic:
    """Start the evaluation (a light job on the training's project), unless one on the current data set is
    already queued or running."""
    found = service.class_training(session, user, class_id, training_id)
    training = found.training
    service.require_open(found.viewer.school_class)
    training_service.require_finished(session, training)
    dataset = service.dataset_of(session, class_id)
    if dataset is None:
        raise conflict("This class has no class data set yet: the teacher builds it.", "no_class_dataset")
    if training.settings.get("class_id") == class_id:
        raise conflict(
            "This network learned from the class data set, so the other writers are not new to it: "
            "evaluate a network trained on its student's own samples.",
            "trained_on_class_dataset",
        )
    if not service.count_other_writers_samples(session, dataset, stored_id(found.trainer), training.labels):
        raise conflict(
            "The class data set has no samples of other writers with this network's labels.", "no_other_writers"
        )
    evaluation = _evaluation(session, class_id, training_id)
    if evaluation is not None and evaluation.dataset_version == dataset.version:
        job = session.get(Job, evaluation.job_id)
        if job is not None and job.status not in FINISHED_STATES:
            return to_public(session, found, evaluation)
    project = session.get(Project, training.project_id)
    if project is None:
        raise not_found("Training")
    job = jobs_service.enqueue(session, runner, project, KIND, {})  # handed to the runner after the commit
    if evaluation is None:
        evaluation = OtherWritersEvaluation(
            class_id=class_id, training_id=training_id, job_id=stored_id(job), dataset_version=dataset.version
        )
    evaluation.job_id, evaluation.dataset_version, evaluation.result = stored_id(job), dataset.version, None
    evaluation.requested_at = utcnow()
    session.add(evaluation)
    service.flush_or_busy(session, "This evaluation")
    job.params = {"evaluation_id": evaluation.id}
    session.add(job)
    session.flush()
    return to_public(session, found, evaluation)


def get(session: Session, user: User, class_id: int, training_id: int) -> OtherWritersPublic:
    found = service.class_training(session, user, class_id, training_id)
    evaluation = _evaluation(session, class_id, training_id)
    if evaluation is None:
        raise not_found("Evaluation on other writers")
    return to_public(session, found, evaluation)


def to_public(session: Session, found: service.ClassTraining, evaluation: OtherWritersEvaluation) -> OtherWritersPublic:
    training = found.training
    job = session.get(Job, evaluation.job_id)
    status = JobStatus(job.status) if job is not None else JobStatus.FAILED
    dataset = service.dataset_of(session, evaluation.class_id)
    teacher = found.viewer.is_teacher
    names = service.nicknames_by_writer(session, evaluation.class_id) if teacher else {}
    owner = session.get(User, training.owner_id) if teacher else None
    result = evaluation.result if status == JobStatus.SUCCEEDED else None
    accuracy = result["accuracy"] if result else None
    own = training.test_accuracy
    return OtherWritersPublic(
        class_id=evaluation.class_id,
        training_id=stored_id(training),
        trained_by=owner.username if owner is not None else None,
        status=status,
        job_id=evaluation.job_id,
        error=job.error if job is not None else JOB_DELETED_REASON.sentence,
        error_code=job.error_code if job is not None else JOB_DELETED_REASON.code,
        error_params=job.error_params if job is not None else None,
        requested_at=evaluation.requested_at,
        dataset_version=evaluation.dataset_version,
        stale=dataset is None or dataset.version != evaluation.dataset_version,
        labels=training.labels,
        own_test_accuracy=own,
        accuracy=accuracy,
        gap=own - accuracy if own is not None and accuracy is not None else None,
        count=result["count"] if result else None,
        correct=result["correct"] if result else None,
        skipped=result["skipped"] if result else None,
        per_label=[LabelScore(**entry) for entry in result["per_label"]] if result else None,
        per_writer=[WriterScore(**entry, nickname=names.get(entry["writer_number"])) for entry in result["per_writer"]]
        if result
        else None,
        weakest=[WeakSpot(**entry, nickname=names.get(entry["writer_number"])) for entry in result["weakest"]]
        if result
        else None,
    )
