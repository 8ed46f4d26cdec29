"""The training job: runs in its own worker process, the only place TensorFlow is imported."""

import io
import json
import time

import numpy as np
from sqlalchemy import func
from sqlmodel import col, select

from digitlab.challenges import jobs as challenges_jobs
from digitlab.challenges.tables import outside_challenges
from digitlab.class_datasets import service as class_datasets_service
from digitlab.core.clock import utcnow
from digitlab.core.contract import CANVAS_SIDE
from digitlab.datasets.tables import Cell
from digitlab.jobs import limits
from digitlab.jobs.context import JobCancelled, JobContext
from digitlab.jobs.tables import Job, JobStatus
from digitlab.jobs.worker import JobError
from digitlab.ml.augment import Augmentation
from digitlab.ml.data import DatasetTooSmall
from digitlab.training.schemas import TrainingEventType, training_message
from digitlab.training.service import model_key
from digitlab.training.tables import Training, TrainingEvent

PROGRESS_INTERVAL = 0.5  # seconds between stored progress messages


class EventWriter:
    """Appends messages to the training's stream; the API's WebSockets read them from the database."""

    def __init__(self, ctx: JobContext, training_id: int):
        self.ctx = ctx
        self.training_id = training_id
        with ctx.unit_of_work() as session:
            last = session.exec(
                select(func.max(TrainingEvent.seq)).where(TrainingEvent.training_id == training_id)
            ).one()
        self.seq = -1 if last is None else last

    def emit(self, kind: TrainingEventType, **data) -> None:
        """Store the next message; it must be what the stream's schema says (training/schemas.py)."""
        training_message.validate_python({"type": kind, "training_id": self.training_id, "seq": self.seq + 1, **data})
        self.seq += 1
        with self.ctx.unit_of_work() as session:
            session.add(TrainingEvent(training_id=self.training_id, seq=self.seq, type=kind, data=data))


# The sample id of a class data set's sample in the stored test set: it is no cell of the project.
NOT_A_CELL = -1


def load_dataset(ctx: JobContext, training: Training) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, label indices, cell ids) of the project's samples, or of the class data set it trains on."""
    index = {label: i for i, label in enumerate(training.labels)}
    class_id = training.settings.get("class_id")
    with ctx.unit_of_work() as session:
        if class_id is None:
            stored = session.exec(
                select(Cell.id, Cell.label, Cell.image)
                .where(Cell.project_id == ctx.project_id, Cell.included, outside_challenges())
                .order_by(col(Cell.id))
            ).all()
        else:
            pooled = class_datasets_service.training_rows(session, class_id)
            if pooled is None:
                raise JobError("The class data set was deleted.", "class_dataset_deleted")
            stored = [(NOT_A_CELL, label, image) for label, image in pooled]
    rows = [(cell_id, label, image) for cell_id, label, image in stored if label in index and image is not None]
    cell_ids = np.array([row[0] for row in rows], dtype=np.int64)
    y = np.array([index[row[1]] for row in rows], dtype=np.int64)
    pixels = np.frombuffer(b"".join(image for _, _, image in rows), dtype=np.uint8)
    images = pixels.reshape(-1, CANVAS_SIDE, CANVAS_SIDE)
    return images, y, cell_ids


def _out_of_memory(exc: BaseException) -> bool:
    """Python's MemoryError, or TensorFlow's ResourceExhaustedError (matched by name: no TensorFlow import)."""
    return isinstance(exc, MemoryError) or any(cls.__name__ == "ResourceExhaustedError" for cls in type(exc).__mro__)


def run_training(ctx: JobContext) -> dict:
    # Issue 8: this process serves this one training and exits, so it caps its own memory before anything
    # large is loaded (digitlab.jobs.limits); a training the estimate let through wrongly ends here, alone.
    memory_limit = limits.apply_memory_limit(ctx.settings.training_memory_limit_mb)
    from digitlab.ml import export, workflow  # TensorFlow: only in this process

    training_id = ctx.params["training_id"]
    with ctx.unit_of_work() as session:
        training = session.get(Training, training_id)
    if training is None:  # deleted while the job was queued
        raise JobError("This training was deleted.", "training_deleted")
    job_id = training.job_id
    settings = training.settings
    images, y, cell_ids = load_dataset(ctx, training)
    writer = EventWriter(ctx, training_id)
    # The time left is extrapolated from the fitting seen so far (from the first report on, so
    # TensorFlow's start-up does not count as training speed).
    timing: dict = {"origin": None, "last_progress": 0.0}

    def on_started(splits) -> None:
        writer.emit(
            TrainingEventType.STARTED,
            epochs=settings["epochs"],
            train_samples=len(splits.y_train),
            val_samples=len(splits.y_val),
            test_samples=len(splits.y_test),
            total_params=training.summary["total_params"],
        )

    def on_epoch(entry: dict) -> None:
        writer.emit(TrainingEventType.EPOCH, **entry)
        ctx.progress(entry["epoch"] / settings["epochs"], f"Epoch {entry['epoch']} of {settings['epochs']}", force=True)

    def on_batch_progress(epoch: int, fraction: float) -> None:
        now = time.monotonic()
        if now - timing["last_progress"] < PROGRESS_INTERVAL or fraction >= 1:
            return
        timing["last_progress"] = now
        done = (epoch - 1 + fraction) / settings["epochs"]
        if timing["origin"] is None:
            timing["origin"] = (now, done)
        origin_time, origin_done = timing["origin"]
        left = (now - origin_time) * (1 - done) / (done - origin_done) if done > origin_done else None
        writer.emit(
            TrainingEventType.PROGRESS,
            epoch=epoch,
            fraction=round(fraction, 4),
            seconds_left=None if left is None else round(left, 1),
        )
        ctx.progress(done, f"Epoch {epoch} of {settings['epochs']}")

    def should_stop() -> bool:
        with ctx.unit_of_work() as session:
            job = session.get(Job, job_id)
            return job is None or job.cancel_requested or job.status != JobStatus.RUNNING

    try:
        outcome = workflow.fit_and_evaluate(
            images,
            y,
            training.labels,
            training.layers,
            epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            learning_rate=settings["learning_rate"],
            val_fraction=settings["val_fraction"],
            test_fraction=settings["test_fraction"],
            seed=settings["seed"],
            early_stopping=settings["early_stopping"],
            # Trainings stored before these settings existed ran without them.
            augmentation=Augmentation(**settings["augmentation"]) if settings.get("augmentation") else None,
            lr_schedule=settings.get("lr_schedule", "constant"),
            threads=ctx.settings.training_threads or None,
            on_started=on_started,
            on_epoch=on_epoch,
            on_batch_progress=on_batch_progress,
            should_stop=should_stop,
        )
    except DatasetTooSmall as exc:
        raise JobError(f"The dataset is too small to train on: {exc}", "dataset_too_small") from None
    except Exception as exc:
        if _out_of_memory(exc) and memory_limit.limit_mb:
            reason = limits.memory_limit_reason(memory_limit.limit_mb)
            raise JobError(reason.sentence, reason.code, limit_mb=memory_limit.limit_mb) from exc
        raise
    if outcome.evaluation is None or outcome.onnx is None or outcome.probabilities is None:
        raise JobCancelled()

    keras_path = ctx.storage.path(model_key(training, "model.keras"))
    keras_path.parent.mkdir(parents=True, exist_ok=True)
    export.save_keras(outcome.result.model, keras_path)
    ctx.storage.write(model_key(training, "model.onnx"), outcome.onnx)
    ctx.storage.write(
        model_key(training, "test_set.npz"), _test_set_file(outcome.splits, cell_ids, outcome.probabilities)
    )
    figures = workflow.report(outcome)
    evaluation = outcome.evaluation.to_dict()
    with ctx.unit_of_work() as session:
        row = session.get(Training, training_id)
        if row is None:
            raise JobError("This training was deleted.", "training_deleted")
        row.epochs_run, row.stopped = figures["epochs_run"], figures["stopped"]
        row.test_loss, row.test_accuracy = figures["test_loss"], figures["test_accuracy"]
        row.dataset = figures["dataset"]
        row.evaluation = {
            key: evaluation[key] for key in ("count", "per_label", "confusion", "misclassified", "gallery")
        } | {"best_epoch": figures["best_epoch"]}
        row.finished_at = utcnow()
        session.add(row)
    ctx.storage.write(model_key(training, "card.json"), json.dumps(model_card(row), indent=1).encode())
    challenges_jobs.score_finished_training(ctx, training_id, outcome.onnx)  # the leaderboard, at once
    return {"training_id": training_id, "test_accuracy": figures["test_accuracy"], "test_loss": figures["test_loss"]}


def _test_set_file(splits, cell_ids: np.ndarray, probabilities: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        x_test=np.round(splits.x_test[..., 0] * 255).astype(np.uint8),
        y_test=splits.y_test,
        cell_ids=cell_ids[splits.test_index],
        probabilities=probabilities.astype(np.float32),
        predicted=probabilities.argmax(axis=1),
    )
    return buffer.getvalue()


def model_card(training: Training) -> dict:
    """What was trained on what, with which result: travels with the downloaded model."""
    return {
        "training_id": training.id,
        "project_id": training.project_id,
        "created_at": training.created_at.isoformat(),
        "finished_at": training.finished_at.isoformat() if training.finished_at else None,
        "labels": training.labels,
        "architecture": training.architecture,
        "activation": training.activation,
        "network": training.summary,
        "settings": training.settings,
        "dataset": training.dataset,
        "epochs_run": training.epochs_run,
        "best_epoch": (training.evaluation or {}).get("best_epoch"),
        "stopped": training.stopped,
        "test": {
            "loss": training.test_loss,
            "accuracy": training.test_accuracy,
            "per_label": (training.evaluation or {}).get("per_label"),
        },
        "files": {"onnx": "model.onnx (opset 17; every layer's activation is an output)", "keras": "model.keras"},
    }
