"""A finished training's evaluation for people: figures plus the test images behind them."""

import base64
import io

import numpy as np

from digitlab.core.errors import not_found
from digitlab.core.storage import FileStorage
from digitlab.pipeline.imageio import encode_png
from digitlab.training.schemas import EvaluationPublic, SampleImage
from digitlab.training.service import confusion_samples, model_key
from digitlab.training.tables import Training


def load_test_set(storage: FileStorage, training: Training) -> dict[str, np.ndarray]:
    key = model_key(training, "test_set.npz")
    if not storage.exists(key):
        raise not_found("Test set")
    with np.load(io.BytesIO(storage.read(key)), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _sample(training: Training, test_set: dict, index: int) -> SampleImage:
    probabilities = test_set["probabilities"][index]
    predicted = int(test_set["predicted"][index])
    true = int(test_set["y_test"][index])
    png = encode_png(255 - test_set["x_test"][index])  # dark ink on white, as everywhere people look
    cell_id = int(test_set["cell_ids"][index])
    return SampleImage(
        test_index=index,
        cell_id=cell_id if cell_id >= 0 else None,  # samples of a class data set are no cells of the project
        true=training.labels[true],
        predicted=training.labels[predicted],
        confidence=float(probabilities[predicted]),
        correct=predicted == true,
        image="data:image/png;base64," + base64.b64encode(png).decode(),
    )


def public(storage: FileStorage, training: Training) -> EvaluationPublic:
    report = training.evaluation or {}
    test_set = load_test_set(storage, training)
    return EvaluationPublic(
        training_id=training.id,
        labels=training.labels,
        count=report["count"],
        loss=training.test_loss,
        accuracy=training.test_accuracy,
        per_label=report["per_label"],
        confusion=report["confusion"],
        misclassified=[_sample(training, test_set, p["index"]) for p in report["misclassified"]],
        gallery=[_sample(training, test_set, p["index"]) for p in report["gallery"]],
    )


def confusion_cell(
    storage: FileStorage, training: Training, true_index: int, predicted_index: int
) -> list[SampleImage]:
    test_set = load_test_set(storage, training)
    return [_sample(training, test_set, i) for i in confusion_samples(training, test_set, true_index, predicted_index)]
