"""Evaluation of a classifier's predictions: loss, accuracy, per-label accuracy, confusion matrix,
misclassified samples and a gallery of predictions to show.

:func:`evaluate_probabilities` is numpy only, so predictions from onnxruntime (or anywhere) are
evaluated without TensorFlow; :func:`evaluate_model` runs a Keras model first (TensorFlow imported
lazily). Sample indices refer to positions in the evaluated arrays — with
:class:`~digitlab.ml.data.DatasetSplits`, ``splits.test_index[i]`` maps them back to the dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

EPSILON = 1e-7  # probabilities are clipped to [EPSILON, 1 - EPSILON] for the loss, as Keras does
GALLERY_SIZE = 40


@dataclass(frozen=True)
class Prediction:
    index: int  # position in the evaluated arrays
    true: int
    predicted: int
    confidence: float  # probability of the predicted label
    true_probability: float
    correct: bool


@dataclass(frozen=True)
class LabelAccuracy:
    label: str
    index: int
    count: int
    correct: int
    accuracy: float | None  # None when the label has no samples here


@dataclass(frozen=True)
class Evaluation:
    labels: tuple[str, ...]
    count: int
    loss: float
    accuracy: float
    per_label: list[LabelAccuracy]
    confusion: list[list[int]]  # confusion[true][predicted]
    misclassified: list[Prediction]  # most confident mistakes first
    gallery: list[Prediction]  # a few samples of every label, in label order, right and wrong

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types."""
        return asdict(self) | {"labels": list(self.labels)}


def cross_entropy(probabilities: np.ndarray, y_true: np.ndarray) -> float:
    """Mean categorical cross-entropy of integer labels under predicted probabilities (Keras' formula)."""
    p = np.clip(probabilities[np.arange(len(y_true)), y_true].astype(np.float64), EPSILON, 1 - EPSILON)
    return float(-np.mean(np.log(p)))


def confusion_matrix(y_true: np.ndarray, predicted: np.ndarray, n_labels: int) -> np.ndarray:
    """confusion[true][predicted]: how often each label was read as each label."""
    confusion = np.zeros((n_labels, n_labels), dtype=np.int64)
    np.add.at(confusion, (np.asarray(y_true, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return confusion


def _label_accuracies(confusion: np.ndarray, labels: Sequence[str]) -> list[LabelAccuracy]:
    accuracies = []
    for index, label in enumerate(labels):
        count = int(confusion[index].sum())
        hits = int(confusion[index, index])
        accuracies.append(
            LabelAccuracy(
                label=str(label), index=index, count=count, correct=hits, accuracy=hits / count if count else None
            )
        )
    return accuracies


@dataclass(frozen=True)
class GroupAccuracy:
    """The accuracy on one group of samples (e.g. one writer's), overall and per label."""

    group: int
    count: int
    correct: int
    accuracy: float
    per_label: list[LabelAccuracy]


def accuracy_by_group(
    y_true: Sequence[int] | np.ndarray,
    predicted: Sequence[int] | np.ndarray,
    groups: Sequence[int] | np.ndarray,
    labels: Sequence[str],
) -> list[GroupAccuracy]:
    """Accuracy and per-label accuracy of each group of samples (``groups[i]`` is sample i's group, e.g. its
    writer), in ascending group order: how well a classifier reads each writer's handwriting."""
    y, guess, group_of = (np.asarray(a, dtype=np.int64) for a in (y_true, predicted, groups))
    if not (len(y) == len(guess) == len(group_of)):
        sizes = f"{len(y)}, {len(guess)}, {len(group_of)}"
        raise ValueError(f"Expected one label, prediction and group per sample, got {sizes}.")
    result = []
    for group in np.unique(group_of):
        members = group_of == group
        hits = int(np.sum(guess[members] == y[members]))
        count = int(members.sum())
        result.append(
            GroupAccuracy(
                group=int(group),
                count=count,
                correct=hits,
                accuracy=hits / count,
                per_label=_label_accuracies(confusion_matrix(y[members], guess[members], len(labels)), labels),
            )
        )
    return result


def evaluate_probabilities(
    probabilities: np.ndarray,
    y_true: Sequence[int] | np.ndarray,
    labels: Sequence[str],
    *,
    gallery_size: int = GALLERY_SIZE,
    max_misclassified: int | None = None,
    seed: int = 0,
) -> Evaluation:
    """Evaluate ``probabilities`` (N, n_labels) — e.g. a softmax output — against true label indices.

    The gallery takes samples round-robin over the labels (seeded random order inside each label),
    so every label is shown; ``max_misclassified`` caps the mistakes listed (None: all).
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(y_true).astype(np.int64)
    n_labels = len(labels)
    if probs.ndim != 2 or probs.shape != (len(y), n_labels):
        raise ValueError(f"Expected probabilities of shape ({len(y)}, {n_labels}), got {probs.shape}.")
    if len(y) == 0:
        raise ValueError("Nothing to evaluate: no samples.")
    if y.min() < 0 or y.max() >= n_labels:
        raise ValueError(f"Label indices must be in 0..{n_labels - 1}.")

    predicted = probs.argmax(axis=1)
    confidence = probs[np.arange(len(y)), predicted]
    true_probability = probs[np.arange(len(y)), y]
    correct = predicted == y

    confusion = confusion_matrix(y, predicted, n_labels)
    per_label = _label_accuracies(confusion, labels)

    def prediction(i: int) -> Prediction:
        return Prediction(
            index=int(i),
            true=int(y[i]),
            predicted=int(predicted[i]),
            confidence=float(confidence[i]),
            true_probability=float(true_probability[i]),
            correct=bool(correct[i]),
        )

    wrong = np.flatnonzero(~correct)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    if max_misclassified is not None:
        wrong = wrong[:max_misclassified]

    rng = np.random.default_rng(seed)
    queues = [list(rng.permutation(np.flatnonzero(y == label))) for label in range(n_labels)]
    gallery_index: list[int] = []
    while len(gallery_index) < min(gallery_size, len(y)):
        for queue in queues:
            if queue and len(gallery_index) < gallery_size:
                gallery_index.append(queue.pop(0))
    gallery_index.sort(key=lambda i: (y[i], i))

    return Evaluation(
        labels=tuple(str(label) for label in labels),
        count=len(y),
        loss=cross_entropy(probs, y),
        accuracy=float(correct.mean()),
        per_label=per_label,
        confusion=confusion.tolist(),
        misclassified=[prediction(i) for i in wrong.tolist()],
        gallery=[prediction(i) for i in gallery_index],
    )


def evaluate_model(
    model: Any,
    x: np.ndarray,
    y_true: Sequence[int] | np.ndarray,
    labels: Sequence[str],
    *,
    batch_size: int = 256,
    **options: Any,
) -> Evaluation:
    """Run a Keras model on ``x`` (uint8 or [0, 1] float images) and evaluate its predictions."""
    from digitlab.ml.data import prepare_images

    probabilities = model.predict(prepare_images(x), batch_size=batch_size, verbose=0)
    return evaluate_probabilities(probabilities, y_true, labels, **options)
