"""Trainings: validate the request, queue the job, and read back its stream, figures and evaluation."""

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, select

from digitlab.api.errors import ApiError, invalid, not_found
from digitlab.core.config import Settings
from digitlab.datasets.models import Cell
from digitlab.jobs import service as jobs_service
from digitlab.jobs.models import FINISHED_STATES, Job
from digitlab.jobs.runner import JobRunner
from digitlab.ml import architectures
from digitlab.ml.data import DatasetTooSmall, check_label_counts
from digitlab.projects.models import Project
from digitlab.training.models import Training, TrainingEvent
from digitlab.training.schemas import NetworkChoice, NetworkSummaryPublic, TrainingCreate, TrainingPublic

KIND = "training"


def files_prefix(training: Training) -> str:
    return f"projects/{training.project_id}/trainings/{training.id}"


def model_key(training: Training, name: str) -> str:
    return f"{files_prefix(training)}/{name}"


def network(choice: NetworkChoice, labels: list[str], settings: Settings) -> tuple[list, architectures.NetworkSummary]:
    """The full layer list and its summary, or a 422 that names the layer and the reason."""
    try:
        if choice.architecture == "custom":
            hidden = architectures.parse_layers(choice.layers or [])
            layers = architectures.with_output_layer(hidden, len(labels))
        else:
            layers = architectures.preset(choice.architecture, len(labels), choice.activation)
        summary = architectures.validate(layers, len(labels), max_params=settings.max_network_params)
    except architectures.ArchitectureError as exc:
        raise ApiError(422, exc.args[0], "invalid_network", layer_index=exc.layer_index,
                       layer_name=exc.layer_name) from None
    return [layer.model_dump() for layer in layers], summary


def summary_public(summary: architectures.NetworkSummary) -> NetworkSummaryPublic:
    return NetworkSummaryPublic(
        input_shape=list(summary.input_shape), total_params=summary.total_params,
        layers=[{"index": s.index, "name": s.name, "kind": s.kind, "output_shape": list(s.output_shape),
                 "params": s.params, "activation": s.activation} for s in summary.layers])


def label_counts(session: Session, project: Project) -> list[int]:
    rows = dict(session.exec(select(Cell.label, func.count()).where(Cell.project_id == project.id, Cell.included)
                             .group_by(Cell.label)).all())
    return [int(rows.get(label, 0)) for label in project.labels]


def start(session: Session, runner: JobRunner, settings: Settings, project: Project, body: TrainingCreate) -> Training:
    layers, summary = network(body, project.labels, settings)
    try:
        check_label_counts(label_counts(session, project), project.labels)
    except DatasetTooSmall as exc:
        raise invalid(f"The dataset is too small to train on: {exc}", "dataset_too_small") from None
    job = Job(project_id=project.id, owner_id=project.owner_id, kind=KIND, params={})
    session.add(job)
    session.flush()
    training = Training(
        project_id=project.id, owner_id=project.owner_id, job_id=job.id, architecture=body.architecture,
        activation=body.activation if body.architecture != "custom" else "custom", layers=layers,
        summary=summary_public(summary).model_dump(), labels=list(project.labels),
        settings=body.model_dump(include={"epochs", "batch_size", "learning_rate", "val_fraction",
                                          "test_fraction", "seed", "early_stopping"}))
    session.add(training)
    session.flush()
    job.params = {"training_id": training.id}
    session.add(job)
    session.commit()
    runner.submit(job.id)
    session.refresh(training)
    return training


def get_training(session: Session, project: Project, training_id: int) -> Training:
    training = session.get(Training, training_id)
    if training is None or training.project_id != project.id:
        raise not_found("Training")
    return training


def list_trainings(session: Session, project: Project) -> list[Training]:
    return list(session.exec(select(Training).where(Training.project_id == project.id).order_by(Training.id.desc())))


def events(session: Session, training: Training, after_seq: int = -1) -> list[TrainingEvent]:
    return list(session.exec(select(TrainingEvent)
                             .where(TrainingEvent.training_id == training.id, TrainingEvent.seq > after_seq)
                             .order_by(TrainingEvent.seq)))


def event_message(training: Training, event: TrainingEvent) -> dict:
    return {"type": event.type, "training_id": training.id, "seq": event.seq, **event.data}


def status_message(training: Training, job: Job) -> dict:
    return {"type": "status", "training_id": training.id, "status": job.status,
            "epochs": training.settings["epochs"]}


def outcome(session: Session, training: Training, job: Job) -> tuple[int, str | None]:
    """(epochs run, why it stopped). A worker that was stopped or died never wrote them, so they
    come from its stored epoch messages and the job then."""
    if job.status == "succeeded":
        return training.epochs_run, training.stopped
    epochs = session.exec(select(func.count()).select_from(TrainingEvent)
                          .where(TrainingEvent.training_id == training.id, TrainingEvent.type == "epoch")).one()
    return epochs, "cancelled" if job.status == "cancelled" else None


def end_message(session: Session, training: Training, job: Job) -> dict | None:
    """The closing message, derived from the job (which always ends, even if its worker was killed)."""
    if job.status not in FINISHED_STATES:
        return None
    test = None
    if job.status == "succeeded" and training.test_loss is not None:
        test = {"loss": training.test_loss, "accuracy": training.test_accuracy}
    epochs_run, stopped = outcome(session, training, job)
    return {"type": "end", "training_id": training.id, "status": job.status,
            "error": job.error, "epochs_run": epochs_run, "stopped": stopped, "test": test}


def deleted_end_message(training_id: int) -> dict:
    """For watchers of a training whose project was deleted meanwhile."""
    return {"type": "end", "training_id": training_id, "status": "cancelled",
            "error": "This training was deleted.", "epochs_run": 0, "stopped": "cancelled", "test": None}


def history(session: Session, training: Training) -> list[dict]:
    """Everything the WebSocket would have sent so far, for clients that poll."""
    job = session.get(Job, training.job_id)
    messages = [status_message(training, job)] + [event_message(training, e) for e in events(session, training)]
    end = end_message(session, training, job)
    return messages + ([end] if end else [])


def to_public(session: Session, training: Training) -> TrainingPublic:
    job = session.get(Job, training.job_id)
    last_epoch = session.exec(select(TrainingEvent).where(TrainingEvent.training_id == training.id,
                                                          TrainingEvent.type == "epoch")
                              .order_by(TrainingEvent.seq.desc()).limit(1)).first()
    base = f"/api/projects/{training.project_id}/trainings/{training.id}"
    epochs_run, stopped = outcome(session, training, job)
    return TrainingPublic(
        **training.model_dump(exclude={"job_id", "evaluation", "layers", "owner_id", "epochs_run", "stopped"}),
        job_id=training.job_id, epochs_run=epochs_run, stopped=stopped,
        status=job.status, progress=job.progress, error=job.error,
        final_epoch=last_epoch.data if last_epoch else None, websocket_url=f"{base}/ws")


def cancel(session: Session, runner: JobRunner, training: Training) -> Training:
    jobs_service.cancel(session, runner, session.get(Job, training.job_id))
    return training


def require_finished(session: Session, training: Training) -> None:
    job = session.get(Job, training.job_id)
    if job.status != "succeeded":
        raise ApiError(409, f"This training has not finished successfully (it is {job.status}).",
                       "training_not_finished")


def confusion_samples(training: Training, test_set: dict, true_index: int, predicted_index: int) -> list[int]:
    n = len(training.labels)
    if not (0 <= true_index < n and 0 <= predicted_index < n):
        raise not_found("Confusion matrix cell")
    hits = (test_set["y_test"] == true_index) & (test_set["predicted"] == predicted_index)
    return [int(i) for i in np.flatnonzero(hits)]
