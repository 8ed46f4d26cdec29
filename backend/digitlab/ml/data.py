"""Dataset preparation for training: image scaling and a stratified, seeded train/val/test split.

Numpy only. Images come in as the extraction produces them — uint8 28x28, 0 = background,
255 = ink — and leave as float32 in [0, 1] with shape (N, 28, 28, 1), the network's input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from digitlab.core.contract import CANVAS_SIDE as IMAGE_SIDE

MIN_SAMPLES_PER_LABEL = 3  # one each for train, validation and test
MIN_LABELS = 2


class DatasetTooSmall(ValueError):
    """The dataset cannot be split into train/validation/test; the message says why."""


def prepare_images(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) or (N, 28, 28, 1) images -> float32 (N, 28, 28, 1) in [0, 1].

    uint8 input is divided by 255. Float input must already be in [0, 1] and is passed through.
    A single 28x28 image becomes a batch of one.
    """
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE, 1):
        s = IMAGE_SIDE
        raise ValueError(f"Expected images of shape (N, {s}, {s}) or (N, {s}, {s}, 1), got {np.shape(images)}.")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32, copy=False)
        if x.size and (not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0):
            raise ValueError("Float images must be in [0, 1] (use uint8 for 0..255).")
        return x
    raise ValueError(f"Images must be uint8 (0..255) or float in [0, 1], not {x.dtype}.")


@dataclass(frozen=True)
class DatasetSplits:
    """Three disjoint parts of one dataset. ``*_index`` are positions in the arrays passed to
    :func:`split_dataset`, so results (e.g. misclassified test samples) map back to the samples."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray
    val_index: np.ndarray
    test_index: np.ndarray
    n_labels: int
    labels: tuple[str, ...]

    def counts(self) -> dict[str, dict[str, int]]:
        """Samples per label in each part: ``{"train": {"0": 48, ...}, "val": ..., "test": ...}``."""
        parts = {"train": self.y_train, "val": self.y_val, "test": self.y_test}
        return {part: {label: int(np.sum(y == i)) for i, label in enumerate(self.labels)} for part, y in parts.items()}


def _part_size(count: int, fraction: float) -> int:
    if fraction <= 0:
        return 0
    return max(1, math.floor(count * fraction + 0.5))


def check_label_counts(counts: Sequence[int] | np.ndarray, names: Sequence[str]) -> None:
    """Raise DatasetTooSmall unless samples per label (``counts[i]`` for ``names[i]``) can be split."""
    per_label = np.asarray(counts)
    for index, count in enumerate(per_label):
        if 0 < count < MIN_SAMPLES_PER_LABEL:
            raise DatasetTooSmall(
                f"Label {names[index]!r} has only {count} sample{'s' if count > 1 else ''}; "
                f"each label needs at least {MIN_SAMPLES_PER_LABEL} (one each for training, "
                "validation and test) or none at all."
            )
    present = int(np.count_nonzero(per_label))
    if present < MIN_LABELS:
        have = "no label has" if present == 0 else f"only label {names[int(np.argmax(per_label))]!r} has"
        raise DatasetTooSmall(f"Training needs samples of at least {MIN_LABELS} labels, but {have} samples.")


def split_dataset(
    images: np.ndarray,
    y: Sequence[int] | np.ndarray,
    n_labels: int | None = None,
    *,
    labels: Sequence[str] | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> DatasetSplits:
    """Split per label so every part has (about) the same label mix; the same seed gives the same split.

    Each label with samples gets ``round(count * fraction)`` validation and test samples, at least one
    each, and the rest for training. ``y`` holds label indices ``0 .. n_labels-1`` (``n_labels``
    defaults to ``len(labels)`` or ``max(y) + 1``); labels without samples are allowed — the network
    still has an output for them. Raises DatasetTooSmall when a label has 1 or 2 samples or fewer than
    two labels have samples. Every part is shuffled (seeded).
    """
    x = prepare_images(images)
    y_arr = np.asarray(y)
    if y_arr.ndim != 1 or len(y_arr) != len(x):
        raise ValueError(f"Expected one label per image: {len(x)} images, labels of shape {y_arr.shape}.")
    if len(y_arr) and not np.issubdtype(y_arr.dtype, np.integer):
        raise ValueError("Labels must be integer label indices.")
    y_arr = y_arr.astype(np.int64)
    if n_labels is None:
        n_labels = len(labels) if labels is not None else (int(y_arr.max()) + 1 if len(y_arr) else 0)
    names = tuple(str(label) for label in labels) if labels is not None else tuple(str(i) for i in range(n_labels))
    if len(names) != n_labels:
        raise ValueError(f"{len(names)} label names for {n_labels} labels.")
    if len(y_arr) and (y_arr.min() < 0 or y_arr.max() >= n_labels):
        raise ValueError(f"Label indices must be in 0..{n_labels - 1}.")
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in [0, 1) and add up to less than 1.")

    check_label_counts(np.bincount(y_arr, minlength=n_labels), names)

    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for label in range(n_labels):
        members = np.flatnonzero(y_arr == label)
        if len(members) == 0:
            continue
        members = rng.permutation(members)
        n_val, n_test = _part_size(len(members), val_fraction), _part_size(len(members), test_fraction)
        while n_val + n_test > len(members) - 1:  # keep at least one training sample
            if n_val >= n_test:
                n_val -= 1
            else:
                n_test -= 1
        parts["val"].append(members[:n_val])
        parts["test"].append(members[n_val : n_val + n_test])
        parts["train"].append(members[n_val + n_test :])
    index = {name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()}
    return DatasetSplits(
        x_train=x[index["train"]],
        y_train=y_arr[index["train"]],
        x_val=x[index["val"]],
        y_val=y_arr[index["val"]],
        x_test=x[index["test"]],
        y_test=y_arr[index["test"]],
        train_index=index["train"],
        val_index=index["val"],
        test_index=index["test"],
        n_labels=n_labels,
        labels=names,
    )
