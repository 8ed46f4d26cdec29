"""Suspicious samples: how strongly a network disagrees with each sample's label, judged out of fold.

The dataset is cut into k folds (stratified by label); for each fold a small network is trained on the other
folds and predicts the held-out one, so no sample is ever judged by a network that learnt it (a network that
trained on a mislabelled sample has memorised its wrong label and would vouch for it). cleanlab turns the
out-of-fold probabilities into a quality score per sample (low = suspicious) and flags the likely label issues
by confident learning.

Notebook use::

    from digitlab.ml import label_quality
    report = label_quality.check_labels(images, y, n_labels=10)
    worst_first = report.order()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitlab.ml.architectures import Conv2D, Dense, Flatten, LayerSpec, MaxPooling2D, with_output_layer
from digitlab.ml.data import prepare_images

DEFAULT_FOLDS = 4
DEFAULT_EPOCHS = 6
DEFAULT_BATCH_SIZE = 64


def checker_layers(n_labels: int) -> list[LayerSpec]:
    """A small CNN (about 30,000 parameters for ten labels): fast enough to train k times, good enough to know
    a digit's shape. A scribble or a mislabelled sample is what it cannot fit from the other folds."""
    return with_output_layer(
        [
            Conv2D(filters=16, kernel_size=3, activation="relu"),
            MaxPooling2D(pool_size=2),
            Conv2D(filters=32, kernel_size=3, activation="relu"),
            MaxPooling2D(pool_size=2),
            Flatten(),
            Dense(units=32, activation="relu"),
        ],
        n_labels,
    )


def stratified_folds(y: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """The fold (0..folds-1) of every sample: each label's samples shuffled and dealt out in turn, so every
    fold holds about the same share of each label."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=np.int64)
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        fold_of[members] = (np.arange(len(members)) + rng.integers(folds)) % folds
    return fold_of


def out_of_fold_probabilities(
    images: np.ndarray,
    y: np.ndarray,
    n_labels: int,
    *,
    folds: int = DEFAULT_FOLDS,
    epochs: int = DEFAULT_EPOCHS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    threads: int | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """(N, n_labels) softmax of every sample by the network that did not train on it.

    ``on_progress(fraction)`` after every epoch of every fold; it may raise to stop (a job's cancellation).
    """
    from digitlab.ml import _tf, train

    if folds < 2:
        raise ValueError("Out-of-fold predictions need at least two folds.")
    x = prepare_images(images)
    y = np.asarray(y, dtype=np.int64)
    fold_of = stratified_folds(y, folds, seed)
    probabilities = np.zeros((len(y), n_labels), dtype=np.float32)
    _tf.configure_threads(threads)
    keras = _tf.keras()
    total_epochs = folds * epochs
    progress = on_progress or (lambda fraction: None)

    for fold in range(folds):
        held_out = fold_of == fold
        model = train.build_model(checker_layers(n_labels), n_labels, max_params=None, seed=seed + fold)
        model.compile(optimizer=keras.optimizers.Adam(0.002), loss="sparse_categorical_crossentropy")
        done = fold * epochs

        after_epoch = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, done=done: progress((done + epoch + 1) / total_epochs)
        )
        model.fit(
            x[~held_out],
            y[~held_out],
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            verbose=0,
            callbacks=[after_epoch],
        )
        probabilities[held_out] = model.predict(x[held_out], batch_size=256, verbose=0)
        keras.backend.clear_session()  # k networks in one process: free each before the next
    return probabilities


@dataclass(frozen=True)
class LabelReport:
    """Per sample: ``labels`` the given label index, ``quality`` in [0, 1] (low = the network disagrees with the
    label), ``suggested`` the label index the out-of-fold network reads, ``issue`` whether confident learning
    calls the label wrong."""

    labels: np.ndarray
    quality: np.ndarray
    suggested: np.ndarray
    issue: np.ndarray
    probabilities: np.ndarray

    def order(self) -> np.ndarray:
        """Sample positions, most suspicious first: the likely label issues, then the rest, each by quality."""
        return np.lexsort((self.quality, ~self.issue))

    @property
    def accuracy(self) -> float:
        """How often the out-of-fold network agreed with the labels (the rest is what to look at)."""
        return float(np.mean(self.suggested == self.labels)) if len(self.labels) else 0.0


def score_labels(y: np.ndarray, probabilities: np.ndarray) -> LabelReport:
    """cleanlab's label quality (self-confidence: the probability of the given label) and its label issues."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    y = np.asarray(y, dtype=np.int64)
    # cleanlab wants every row to sum to 1 (softmax in float32 misses by ~1e-7).
    probs = probabilities.astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    quality = get_label_quality_scores(y, probs, method="self_confidence")
    # n_jobs=1: cleanlab's process pool relies on fork-inherited globals and breaks in a spawned job process; the
    # job is already a process of its own.
    issue = find_label_issues(y, probs, filter_by="prune_by_noise_rate", n_jobs=1)
    return LabelReport(
        labels=y,
        quality=np.asarray(quality, dtype=np.float64),
        suggested=probs.argmax(axis=1),
        issue=np.asarray(issue, dtype=bool),
        probabilities=probabilities,
    )


def check_labels(
    images: np.ndarray,
    y: np.ndarray,
    n_labels: int,
    *,
    folds: int = DEFAULT_FOLDS,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    threads: int | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> LabelReport:
    """Out-of-fold probabilities, then cleanlab's scores: the whole check in one call."""
    probabilities = out_of_fold_probabilities(
        images, y, n_labels, folds=folds, epochs=epochs, seed=seed, threads=threads, on_progress=on_progress
    )
    return score_labels(y, probabilities)
