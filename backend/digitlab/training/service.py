"""Trainings: validate the request, queue the job, and read back its stream, figures and evaluation."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, func
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from digitlab.challenges.tables import outside_challenges
from digitlab.class_datasets import service as class_datasets_service
from digitlab.core.config import Settings
from digitlab.core.db import stored_id
from digitlab.core.errors import conflict, invalid, not_found
from digitlab.core.paging import FIRST_PAGE, Page
from digitlab.datasets.tables import Cell
from digitlab.jobs import service as jobs_service
from digitlab.jobs.estimates import JobSize
from digitlab.jobs.reason import Reason
from digitlab.jobs.runner import JobRunner
from digitlab.jobs.schemas import QueuePlace
from digitlab.jobs.tables import FINISHED_STATES, Job, JobStatus
from digitlab.ml import architectures
from digitlab.ml.data import DatasetTooSmall, check_label_counts
from digitlab.ml.train import StopReason
from digitlab.projects.tables import Project
from digitlab.training.schemas import (
    EndMessage,
    HeldOutScores,
    NetworkChoice,
    NetworkSummaryPublic,
    NetworkSummaryRequest,
    QueueMessage,
    StatusMessage,
    TrainingCreate,
    TrainingEventType,
    TrainingPublic,
    training_message,
)
from digitlab.training.tables import Training, TrainingEvent

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
        raise invalid(exc.args[0], "invalid_network", layer_index=exc.layer_index, layer_name=exc.layer_name) from None
    return [layer.model_dump() for layer in layers], summary


def training_memory(
    summary: architectures.NetworkSummary, batch_size: int, samples: int, settings: Settings
) -> architectures.MemoryEstimate:
    """The training's estimated peak memory, or a 422 saying what takes it and what to change (issue 8: the
    parameter count alone let networks through that needed ~9 GB)."""
    try:
        return architectures.check_training_memory(
            summary, batch_size, settings.max_training_memory_mb or None, samples
        )
    except architectures.ArchitectureError as exc:
        estimate = architectures.estimate_training_memory(summary, batch_size, samples)
        raise invalid(
            exc.message,
            exc.code,
            layer_index=None,
            layer_name=None,
            estimated_mb=estimate.total_mb,
            limit_mb=settings.max_training_memory_mb,
        ) from None


def summary_public(
    summary: architectures.NetworkSummary,
    memory: architectures.MemoryEstimate | None = None,
    settings: Settings | None = None,
) -> NetworkSummaryPublic:
    return NetworkSummaryPublic(
        input_shape=list(summary.input_shape),
        total_params=summary.total_params,
        layers=[
            {
                "index": s.index,
                "name": s.name,
                "kind": s.kind,
                "output_shape": list(s.output_shape),
                "params": s.params,
                "activation": s.activation,
            }
            for s in summary.layers
        ],
        memory=None
        if memory is None
        else {
            "batch_size": memory.batch_size,
            "samples": memory.samples,
            "estimated_mb": memory.total_mb,
            "limit_mb": (settings.max_training_memory_mb or None) if settings else None,
            "activations_mb": memory.activations_mb,
            "parameters_mb": memory.parameters_mb,
            "dataset_mb": memory.dataset_mb,
            "overhead_mb": memory.overhead_mb,
        },
    )


def preview(
    session: Session, settings: Settings, project: Project, body: NetworkSummaryRequest
) -> NetworkSummaryPublic:
    """The summary of the network a training would build, with its memory for the batch size: the same
    checks as `start`, nothing stored."""
    data = training_data(session, project, body.class_id)
    _, summary = network(body, data.labels, settings)
    memory = training_memory(summary, body.batch_size, sum(data.counts), settings)
    return summary_public(summary, memory, settings)


def label_counts(session: Session, project: Project) -> list[int]:
    """Samples per label a training of the project learns from (never those on class challenge sheets)."""
    rows = dict(
        session.exec(
            select(Cell.label, func.count())
            .where(Cell.project_id == project.id, Cell.included, outside_challenges())
            .group_by(Cell.label)
        ).all()
    )
    return [int(rows.get(label, 0)) for label in project.labels]


@dataclass(frozen=True)
class TrainingData:
    labels: list[str]
    counts: list[int]  # samples per label
    class_dataset_version: int | None  # when it is a class data set


def training_data(session: Session, project: Project, class_id: int | None) -> TrainingData:
    """What a training learns from: the project's own samples, or the data set of a class its owner is in."""
    if class_id is None:
        return TrainingData(list(project.labels), label_counts(session, project), None)
    dataset = class_datasets_service.dataset_for_training(session, project.owner_id, class_id)
    return TrainingData(list(dataset.labels), class_datasets_service.label_counts(session, dataset), dataset.version)


def start(session: Session, runner: JobRunner, settings: Settings, project: Project, body: TrainingCreate) -> Training:
    data = training_data(session, project, body.class_id)
    layers, summary = network(body, data.labels, settings)
    counts = data.counts
    memory = training_memory(summary, body.batch_size, sum(counts), settings)
    try:
        check_label_counts(counts, data.labels)
    except DatasetTooSmall as exc:
        raise invalid(f"The dataset is too small to train on: {exc}", "dataset_too_small") from None
    job = jobs_service.enqueue(session, runner, project, KIND, {})  # handed to the runner after the commit
    training = Training(
        project_id=stored_id(project),
        owner_id=project.owner_id,
        job_id=stored_id(job),
        architecture=body.architecture,
        activation=body.activation if body.architecture != "custom" else "custom",
        layers=layers,
        summary=summary_public(summary, memory, settings).model_dump(),
        labels=data.labels,
        settings=body.model_dump(
            include={
                "epochs",
                "batch_size",
                "learning_rate",
                "val_fraction",
                "test_fraction",
                "seed",
                "early_stopping",
                "augmentation",
                "lr_schedule",
            }
        )
        | ({"class_id": body.class_id, "class_dataset_version": data.class_dataset_version} if body.class_id else {}),
    )
    session.add(training)
    session.flush()
    job.params = {"training_id": training.id}
    session.add(job)
    session.flush()
    return training


def job_sizes(session: Session, jobs: list[Job]) -> dict[int, JobSize]:
    """A training's work for the queue's estimates: thousands of sample-epochs (the epochs it ran once it has
    succeeded, else the epochs asked for), compared with trainings of the same architecture."""
    status = {job.id: job.status for job in jobs}
    trainings = session.exec(
        select(Training)
        .where(col(Training.job_id).in_(list(status)))
        .options(defer(Training.evaluation))  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    found = {}
    for training in trainings:
        finished = status[training.job_id] == JobStatus.SUCCEEDED and training.epochs_run
        epochs = training.epochs_run if finished else training.settings.get("epochs", 1)
        samples = (training.summary.get("memory") or {}).get("samples") or ESTIMATE_SAMPLES
        found[training.job_id] = JobSize(f"training:{training.architecture}", epochs * samples / 1000)
    return found


ESTIMATE_SAMPLES = 4000  # for trainings stored before their summary counted the samples


def get_training(session: Session, project: Project, training_id: int) -> Training:
    training = session.get(Training, training_id)
    if training is None or training.project_id != project.id:
        raise not_found("Training")
    return training


def list_trainings(session: Session, project: Project, page: Page = FIRST_PAGE) -> list[Training]:
    query = select(Training).where(Training.project_id == project.id).order_by(col(Training.id).desc())
    return list(session.exec(page.apply(query)))


def events(session: Session, training: Training, after_seq: int = -1) -> list[TrainingEvent]:
    return list(
        session.exec(
            select(TrainingEvent)
            .where(TrainingEvent.training_id == training.id, TrainingEvent.seq > after_seq)
            .order_by(col(TrainingEvent.seq))
        )
    )


# Stream messages are built by their models (training/schemas.py) and given out as the JSON they send.
def event_message(training: Training, event: TrainingEvent) -> dict:
    message = training_message.validate_python(
        {"type": event.type, "training_id": training.id, "seq": event.seq, **event.data}
    )
    return message.model_dump(mode="json")


def status_message(training: Training, job: Job) -> dict:
    return StatusMessage(
        training_id=training.id, status=JobStatus(job.status), epochs=training.settings["epochs"]
    ).model_dump(mode="json")


EpochEvents = tuple[int, dict[str, Any] | None]  # (how many epoch messages a training stored, the last one's data)
NO_EPOCHS: EpochEvents = (0, None)


def epoch_events(session: Session, training_ids: Iterable[int | None]) -> dict[int, EpochEvents]:
    """training id -> its EpochEvents, for the trainings that stored any; one query however many trainings."""
    training_id, seq = col(TrainingEvent.training_id), col(TrainingEvent.seq)
    stats = (
        select(training_id, func.count().label("epochs"), func.max(seq).label("seq"))
        .where(training_id.in_(list(training_ids)), TrainingEvent.type == TrainingEventType.EPOCH)
        .group_by(training_id)
        .subquery()
    )
    rows = session.exec(
        select(stats.c.training_id, stats.c.epochs, col(TrainingEvent.data)).join(
            TrainingEvent, and_(training_id == stats.c.training_id, seq == stats.c.seq)
        )
    ).all()
    return {row_id: (epochs, dict(data)) for row_id, epochs, data in rows}


def outcome(training: Training, job: Job, epochs_stored: int) -> tuple[int, StopReason | None]:
    """(epochs run, why it stopped). A worker that was stopped or died never wrote them, so they
    come from its stored epoch messages and the job then."""
    if job.status == JobStatus.SUCCEEDED:
        return training.epochs_run, StopReason(training.stopped) if training.stopped else None
    return epochs_stored, StopReason.CANCELLED if job.status == JobStatus.CANCELLED else None


def end_message(session: Session, training: Training, job: Job) -> dict | None:
    """The closing message, derived from the job (which always ends, even if its worker was killed)."""
    if job.status not in FINISHED_STATES:
        return None
    test = None
    if job.status == JobStatus.SUCCEEDED and training.test_loss is not None and training.test_accuracy is not None:
        test = HeldOutScores(loss=training.test_loss, accuracy=training.test_accuracy)
    assert training.id is not None  # a stored training
    epochs_stored, _ = epoch_events(session, [training.id]).get(training.id, NO_EPOCHS)
    epochs_run, stopped = outcome(training, job, epochs_stored)
    return EndMessage(
        training_id=training.id,
        status=JobStatus(job.status),
        error=job.error,
        error_code=job.error_code,
        error_params=job.error_params,
        epochs_run=epochs_run,
        stopped=stopped,
        test=test,
    ).model_dump(mode="json")


DELETED_REASON = Reason("training_deleted", "This training was deleted.")


def deleted_end_message(training_id: int) -> dict:
    """For watchers of a training whose project was deleted meanwhile."""
    return EndMessage(
        training_id=training_id,
        status=JobStatus.CANCELLED,
        error=DELETED_REASON.sentence,
        error_code=DELETED_REASON.code,
        epochs_run=0,
        stopped=StopReason.CANCELLED,
        test=None,
    ).model_dump(mode="json")


def history(session: Session, training: Training) -> list[dict]:
    """Everything the WebSocket would have sent so far, for clients that poll."""
    job = training_job(session, training)
    waiting = queue_message(session, training, job)
    messages = [status_message(training, job)] + ([waiting] if waiting else [])
    messages += [event_message(training, e) for e in events(session, training)]
    end = end_message(session, training, job)
    return messages + ([end] if end else [])


def queue_message(session: Session, training: Training, job: Job) -> dict | None:
    """While the training waits: its place in the queue and when it should start and end."""
    place = jobs_service.queue_place(session, job)
    if place is None:
        return None
    return QueueMessage(training_id=training.id, **place.model_dump()).model_dump(mode="json")


# A stream sends a new queue message when the place changes or an estimate moves by at least this much.
QUEUE_ESTIMATE_STEP_SECONDS = 3.0


def queue_moved(previous: dict | None, current: dict | None) -> bool:
    """Whether a stream should send `current` after having sent `previous`."""
    if current is None:
        return False
    if previous is None or previous["position"] != current["position"]:
        return True
    return any(
        abs(datetime.fromisoformat(current[key]) - datetime.fromisoformat(previous[key])).total_seconds()
        >= QUEUE_ESTIMATE_STEP_SECONDS
        for key in ("estimated_start", "estimated_end")
    )


def to_public(session: Session, training: Training, with_queue: bool = True) -> TrainingPublic:
    """`with_queue` False: without its place in the queue (a training just started, not yet committed: the queue's
    snapshots, shared by every request, see committed jobs only; the next read has it)."""
    return public_list(session, [training], with_queue)[0]


def public_list(session: Session, trainings: list[Training], with_queue: bool = True) -> list[TrainingPublic]:
    """The trainings as the API shows them, in two queries however many there are (and the queue's snapshot)."""
    if not trainings:
        return []
    jobs = {job.id: job for job in session.exec(select(Job).where(col(Job.id).in_([t.job_id for t in trainings])))}
    epochs = epoch_events(session, [training.id for training in trainings])
    public = []
    for training in trainings:
        assert training.id is not None  # stored trainings
        job = jobs[training.job_id]
        public.append(
            _public(
                training,
                job,
                *epochs.get(training.id, NO_EPOCHS),
                jobs_service.queue_place(session, job) if with_queue else None,
            )
        )
    return public


def _public(
    training: Training, job: Job, epochs_stored: int, last_epoch: dict | None, place: QueuePlace | None = None
) -> TrainingPublic:
    base = f"/api/projects/{training.project_id}/trainings/{training.id}"
    epochs_run, stopped = outcome(training, job, epochs_stored)
    return TrainingPublic(
        **training.model_dump(exclude={"job_id", "evaluation", "layers", "owner_id", "epochs_run", "stopped"}),
        job_id=training.job_id,
        epochs_run=epochs_run,
        stopped=stopped,
        status=job.status,
        progress=job.progress,
        error=job.error,
        error_code=job.error_code,
        error_params=job.error_params,
        final_epoch=last_epoch,
        best_epoch=(training.evaluation or {}).get("best_epoch"),
        websocket_url=f"{base}/ws",
        queue=place,
    )


def cancel(session: Session, runner: JobRunner, training: Training) -> Training:
    jobs_service.cancel(session, runner, training_job(session, training))
    return training


def training_job(session: Session, training: Training) -> Job:
    """The job that runs (or ran) the training; the two are only ever deleted together."""
    job = session.get(Job, training.job_id)
    if job is None:
        raise not_found("Training")
    return job


def require_finished(session: Session, training: Training) -> None:
    job = training_job(session, training)
    if job.status != JobStatus.SUCCEEDED:
        raise conflict(f"This training has not finished successfully (it is {job.status}).", "training_not_finished")


def confusion_samples(training: Training, test_set: dict, true_index: int, predicted_index: int) -> list[int]:
    n = len(training.labels)
    if not (0 <= true_index < n and 0 <= predicted_index < n):
        raise not_found("Confusion matrix cell")
    hits = (test_set["y_test"] == true_index) & (test_set["predicted"] == predicted_index)
    return [int(i) for i in np.flatnonzero(hits)]
