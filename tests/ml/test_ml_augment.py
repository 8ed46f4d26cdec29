"""Augmentation: labels and the 28x28 contract kept, fresh changes each epoch, the same seed the same network,
and the network itself untouched (parameters); the best epoch's weights come back."""

import dataclasses

import numpy as np
import pytest

from digitlab.ml import architectures as A
from digitlab.ml.augment import Augmentation
from tests.ml.test_ml_train import small_splits

pytestmark = pytest.mark.slow


def test_ranges_are_checked_without_tensorflow():
    assert Augmentation().active and not Augmentation(0, 0, 0, 0, 0).active
    for bad in ({"rotation": -1}, {"shift": 0.5}, {"zoom": float("nan")}, {"stroke": 2}, {"elastic": 9}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Augmentation(**bad)


def _templates() -> np.ndarray:
    """Three shapes nobody confuses: a horizontal bar, a vertical bar, a ring (float, 28x28)."""
    import cv2

    shapes = np.zeros((3, 28, 28), np.uint8)
    cv2.line(shapes[0], (6, 14), (21, 14), 255, 3)
    cv2.line(shapes[1], (14, 6), (14, 21), 255, 3)
    cv2.circle(shapes[2], (14, 14), 8, 255, 3)
    return shapes


def test_augmented_batches_keep_labels_and_the_input_contract():
    from digitlab.ml.augment import training_dataset

    shapes = _templates()
    y = np.repeat(np.arange(3), 20)
    x = shapes[y].astype(np.float32)[..., None] / 255
    stream, steps = training_dataset(x, y, batch_size=16, seed=3, augmentation=Augmentation(elastic=2))
    assert steps == 4
    seen_labels, changed = [], 0
    for images, labels in stream.take(2 * steps):  # two epochs
        images, labels = images.numpy(), labels.numpy()
        assert images.shape[1:] == (28, 28, 1) and images.dtype == np.float32
        assert images.min() >= 0 and images.max() <= 1
        flat = images[..., 0].reshape(len(images), -1)
        # Each changed sample still looks most like its own label's shape (cosine similarity).
        templates = shapes.reshape(3, -1).astype(np.float32)
        scores = (flat / np.linalg.norm(flat, axis=1, keepdims=True)) @ (
            templates / np.linalg.norm(templates, axis=1, keepdims=True)
        ).T
        assert (scores.argmax(axis=1) == labels).all()
        changed += int((np.abs(images[..., 0] - shapes[labels] / 255).max(axis=(1, 2)) > 0.05).sum())
        seen_labels.extend(labels.tolist())
    assert sorted(seen_labels) == sorted(np.concatenate([y, y]).tolist())  # every sample once per epoch
    assert changed > 0.9 * len(seen_labels)  # almost every sample changed


def test_changes_are_new_every_epoch_and_repeat_with_the_seed():
    from digitlab.ml.augment import augment_batch

    x = _templates()[2:3].astype(np.float32)[..., None].repeat(4, 0) / 255
    first = augment_batch(x, Augmentation(), [7, 0]).numpy()
    assert np.array_equal(first, augment_batch(x, Augmentation(), [7, 0]).numpy())
    assert not np.allclose(first, augment_batch(x, Augmentation(), [7, 1]).numpy())  # next batch number
    assert not np.allclose(first[0], first[1])  # each sample its own change
    assert np.array_equal(augment_batch(x, Augmentation(0, 0, 0, 0, 0), [7, 0]).numpy(), x)  # all off: unchanged


def test_same_seed_same_network_and_the_same_parameters(digits):
    from digitlab.ml.train import train

    splits = small_splits(digits)
    runs = [
        train(A.preset("mlp", 10), splits, epochs=2, seed=4, augmentation=Augmentation(elastic=1)) for _ in range(2)
    ]
    for a, b in zip(runs[0].model.get_weights(), runs[1].model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert runs[0].model.count_params() == 89_610  # augmentation is no part of the network
    assert runs[0].settings["augmentation"]["elastic"] == 1
    other = train(A.preset("mlp", 10), splits, epochs=2, seed=5, augmentation=Augmentation())
    assert not np.allclose(other.model.get_weights()[0], runs[0].model.get_weights()[0])


def test_the_best_epochs_network_comes_back_although_every_epoch_ran(digits):
    from digitlab.ml.train import train

    splits = small_splits(digits, per_label=40)
    # Validation against shuffled labels: the better the network learns, the worse it gets there.
    splits = dataclasses.replace(splits, y_val=np.random.default_rng(0).permutation(splits.y_val))
    result = train(
        A.preset("mlp", 10),
        splits,
        epochs=6,
        early_stopping=100,
        seed=0,
        augmentation=Augmentation(),
        lr_schedule="cosine",
        label_smoothing=0,  # the plain val_loss, comparable with evaluate()
    )
    assert result.stopped == "completed" and result.epochs_run == 6
    losses = [e["val_loss"] for e in result.history]
    assert result.best_epoch == int(np.argmin(losses)) + 1 < 6
    val_loss, _ = result.model.evaluate(splits.x_val, splits.y_val, verbose=0)
    assert val_loss == pytest.approx(min(losses), abs=1e-4)
