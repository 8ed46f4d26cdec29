"""Split, train, evaluate and export in one call: the same steps for the service's jobs and the CLI."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlab.ml.augment import Augmentation
from digitlab.ml.data import DatasetSplits, split_dataset
from digitlab.ml.evaluate import Evaluation


@dataclass
class Outcome:
    splits: DatasetSplits
    result: Any  # train.TrainResult
    evaluation: Evaluation | None  # None when cancelled
    probabilities: np.ndarray | None  # softmax of the test samples
    onnx: bytes | None


def fit_and_evaluate(
    images: np.ndarray,
    y: np.ndarray,
    labels: Sequence[str],
    layers: Sequence[Any],
    *,
    epochs: int = 30,
    batch_size: int = 32,
    learning_rate: float = 0.002,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    early_stopping: int | None = None,
    augmentation: Augmentation | None = None,
    lr_schedule: str = "constant",
    threads: int | None = None,
    on_started: Callable[[DatasetSplits], None] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    on_batch_progress: Callable[[int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Outcome:
    """Raises data.DatasetTooSmall before any TensorFlow work if the data cannot be split."""
    from digitlab.ml import evaluate, export, train

    splits = split_dataset(images, y, labels=labels, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    if on_started is not None:
        on_started(splits)
    result = train.train(
        layers,
        splits,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        early_stopping=early_stopping,
        augmentation=augmentation,
        lr_schedule=lr_schedule,
        seed=seed,
        on_epoch=on_epoch,
        on_batch_progress=on_batch_progress,
        should_stop=should_stop,
        max_params=None,
        threads=threads,
    )
    if result.stopped == train.StopReason.CANCELLED:
        return Outcome(splits, result, None, None, None)
    # The training's batch size here too: the memory estimate (architectures.estimate_training_memory)
    # counts batches of that size, and a network with large layer outputs must not peak in predict.
    probabilities = result.model.predict(splits.x_test, batch_size=batch_size, verbose=0)
    evaluation = evaluate.evaluate_probabilities(probabilities, splits.y_test, labels)
    return Outcome(splits, result, evaluation, probabilities, export.to_onnx(result.model, labels))


def report(outcome: Outcome) -> dict:
    """The figures a student compares runs by (JSON-ready)."""
    if outcome.evaluation is None:
        raise ValueError("A cancelled training has no test figures to report.")
    evaluation = outcome.evaluation.to_dict()
    return {
        "test_loss": evaluation["loss"],
        "test_accuracy": evaluation["accuracy"],
        "per_label": evaluation["per_label"],
        "confusion": evaluation["confusion"],
        "labels": evaluation["labels"],
        "epochs_run": outcome.result.epochs_run,
        "best_epoch": outcome.result.best_epoch,
        "stopped": outcome.result.stopped,
        "history": outcome.result.history,
        "dataset": outcome.splits.counts(),
        "total_params": outcome.result.summary.total_params,
    }
