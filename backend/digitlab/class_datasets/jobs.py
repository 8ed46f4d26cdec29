"""The evaluation on other writers, as a light job: onnxruntime only (no TensorFlow), in batches of bounded size."""

import numpy as np

from digitlab.class_datasets import service
from digitlab.class_datasets.tables import OtherWritersEvaluation
from digitlab.classes import service as classes_service
from digitlab.core.contract import CANVAS_SIDE
from digitlab.core.db import stored_id
from digitlab.core.storage import FileStorage
from digitlab.jobs.context import JobContext
from digitlab.jobs.worker import JobError
from digitlab.ml.evaluate import GroupAccuracy, LabelAccuracy, accuracy_by_group
from digitlab.ml.onnx_runtime import OnnxModel
from digitlab.training.service import model_key
from digitlab.training.tables import Training

BATCH_SIZE = 256  # samples per network run: bounds the activations' memory, whatever the network
CHUNK = 2048  # samples between progress reports (and chances to cancel)
WEAK_SPOT_MIN_SAMPLES = 3  # a writer's label needs this many samples before it can be called weak
WEAK_SPOTS = 3


def load_model(storage: FileStorage, training: Training) -> OnnxModel:
    key = model_key(training, "model.onnx")
    if not storage.exists(key):
        raise JobError("The trained network's file is missing.", "model_file_missing")
    return OnnxModel(storage.read(key))


def images_of(rows: list[bytes]) -> np.ndarray:
    """Stored samples (784 bytes each) as one uint8 array (N, 28, 28)."""
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, CANVAS_SIDE, CANVAS_SIDE)


def read_samples(ctx: JobContext, model: OnnxModel, images: np.ndarray, done: float = 0.0) -> np.ndarray:
    """The label index the network reads in each image, reporting progress from `done` to 1."""
    predicted = []
    for first in range(0, len(images), CHUNK):
        predicted.append(model.predict(images[first : first + CHUNK], batch_size=BATCH_SIZE).argmax(axis=1))
        ctx.progress(done + (1 - done) * (first + CHUNK) / len(images), "Reading the samples")
    return np.concatenate(predicted) if predicted else np.zeros(0, dtype=np.int64)


def run_other_writers(ctx: JobContext) -> dict:
    evaluation_id = ctx.params["evaluation_id"]
    with ctx.unit_of_work() as session:
        evaluation = session.get(OtherWritersEvaluation, evaluation_id)
        if evaluation is None or evaluation.job_id != ctx.job_id:
            raise JobError("This evaluation was replaced by a newer one.", "evaluation_replaced")
        training = session.get(Training, evaluation.training_id)
        dataset = service.dataset_of(session, evaluation.class_id)
        if training is None or dataset is None:
            raise JobError("The training or the class data set was deleted.", "evaluation_source_deleted")
        trainer = classes_service.membership(session, evaluation.class_id, training.owner_id)
        if trainer is None:
            raise JobError("The student who trained this network has left the class.", "trainer_left_class")
        rows = service.other_writers_rows(session, dataset, stored_id(trainer), training.labels)
        unknown = [label for label in dataset.labels if label not in training.labels]
        skipped = service.count_other_writers_samples(session, dataset, stored_id(trainer), unknown)
        version = dataset.version
    if not rows:
        raise JobError(
            "The class data set has no samples of other writers with this network's labels.", "no_other_writers"
        )
    index = {label: i for i, label in enumerate(training.labels)}
    y = np.array([index[label] for _, label, _ in rows], dtype=np.int64)
    writers = np.array([writer for writer, _, _ in rows], dtype=np.int64)
    images = images_of([image for _, _, image in rows])
    del rows
    predicted = read_samples(ctx, load_model(ctx.storage, training), images)
    result = other_writers_result(y, predicted, writers, training.labels) | {"skipped": skipped}
    with ctx.unit_of_work() as session:
        row = session.get(OtherWritersEvaluation, evaluation_id)
        if row is None or row.job_id != ctx.job_id:
            raise JobError("This evaluation was replaced by a newer one.", "evaluation_replaced")
        row.result, row.dataset_version = result, version
        session.add(row)
    return {"evaluation_id": evaluation_id, "accuracy": result["accuracy"], "count": result["count"]}


def _label_scores(per_label: list[LabelAccuracy]) -> list[dict]:
    return [{"label": e.label, "count": e.count, "correct": e.correct, "accuracy": e.accuracy} for e in per_label]


def other_writers_result(y: np.ndarray, predicted: np.ndarray, writers: np.ndarray, labels: list[str]) -> dict:
    """The figures of OtherWritersPublic, writers by number only (JSON-ready)."""
    [overall] = accuracy_by_group(y, predicted, np.zeros_like(y), labels)
    per_writer: list[GroupAccuracy] = accuracy_by_group(y, predicted, writers, labels)
    spots = [
        (writer.group, entry)
        for writer in per_writer
        for entry in writer.per_label
        if entry.count >= WEAK_SPOT_MIN_SAMPLES and entry.accuracy is not None and entry.accuracy < 1
    ]
    spots.sort(key=lambda spot: (spot[1].accuracy, -spot[1].count, spot[0], spot[1].index))
    return {
        "count": overall.count,
        "correct": overall.correct,
        "accuracy": overall.accuracy,
        "per_label": _label_scores(overall.per_label),
        "per_writer": [
            {
                "writer_number": writer.group,
                "count": writer.count,
                "correct": writer.correct,
                "accuracy": writer.accuracy,
                "per_label": _label_scores(writer.per_label),
            }
            for writer in per_writer
        ],
        "weakest": [
            {
                "writer_number": number,
                "label": entry.label,
                "count": entry.count,
                "correct": entry.correct,
                "accuracy": entry.accuracy,
            }
            for number, entry in spots[:WEAK_SPOTS]
        ],
    }
