"""Real (short) trainings on synthetic digits: learning, callbacks, cancelling, early stopping, seeds."""

import dataclasses
import math

import numpy as np
import pytest

from digitlab.ml import architectures as A
from digitlab.ml.data import split_dataset
from digitlab.ml.train import HISTORY_KEYS

pytestmark = pytest.mark.slow


def small_splits(digits, per_label: int = 20, seed: int = 0):
    x, y = digits
    keep = np.concatenate([np.flatnonzero(y == label)[:per_label] for label in range(10)])
    return split_dataset(x[keep], y[keep], n_labels=10, seed=seed)


def test_mlp_learns_synthetic_digits(trained_mlp, splits):
    result = trained_mlp.result
    assert result.stopped == "completed" and result.epochs_run == 6
    assert result.history[-1]["val_accuracy"] > 0.8
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    probabilities = result.model.predict(splits.x_test, verbose=0)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == splits.y_test))
    assert accuracy > 0.8  # chance is 0.1
    assert result.summary.total_params == 89_610
    assert result.settings == {"epochs": 6, "batch_size": 32, "learning_rate": 0.002, "early_stopping": None,
                               "seed": 0, "augmentation": None, "lr_schedule": "constant", "label_smoothing": 0.2}


def test_on_epoch_is_called_once_per_epoch_with_the_history_keys(trained_mlp):
    epochs = trained_mlp.epochs
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4, 5, 6]
    assert epochs == trained_mlp.result.history
    for entry in epochs:
        assert tuple(entry) == HISTORY_KEYS == ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")
        assert all(isinstance(value, (int, float)) and math.isfinite(value) for value in entry.values())
        assert 0 <= entry["accuracy"] <= 1 and 0 <= entry["val_accuracy"] <= 1 and entry["seconds"] > 0
    assert sum(e["seconds"] for e in epochs) <= trained_mlp.result.seconds


def test_batch_progress_rises_within_each_epoch(trained_mlp, splits):
    progress = trained_mlp.progress
    steps = math.ceil(len(splits.x_train) / 32)
    for epoch in range(1, 7):
        fractions = [f for e, f in progress if e == epoch]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
        assert all(0 < f <= 1 for f in fractions)
        assert len(fractions) == steps  # check_interval=0: every batch after the first, plus the end
    assert [e for e, _ in progress] == sorted(e for e, _ in progress)


def test_cnn_learns_too(digits):
    from digitlab.ml.train import train

    splits = small_splits(digits, per_label=30)
    result = train(A.preset("cnn", 10), splits, epochs=3, seed=0)
    assert result.history[-1]["val_accuracy"] > 0.6


def test_should_stop_cancels_and_drops_the_cut_epoch(digits):
    from digitlab.ml.train import train

    seen: list[dict] = []
    result = train(A.preset("mlp", 10), small_splits(digits), epochs=50, seed=0, on_epoch=seen.append,
                   should_stop=lambda: len(seen) >= 2, check_interval=0.0)
    assert result.stopped == "cancelled"
    assert [e["epoch"] for e in result.history] == [1, 2] and len(seen) == 2
    assert result.model is not None


def test_should_stop_before_the_start_trains_nothing(digits):
    from digitlab.ml.train import train

    result = train(A.preset("mlp", 10), small_splits(digits), epochs=5, should_stop=lambda: True)
    assert result.stopped == "cancelled" and result.history == [] and result.best_epoch is None


def test_callback_exceptions_propagate(digits):
    from digitlab.ml.train import train

    class Cancelled(Exception):
        pass

    def on_batch_progress(epoch, fraction):
        raise Cancelled()

    with pytest.raises(Cancelled):
        train(A.preset("mlp", 10), small_splits(digits), epochs=5, on_batch_progress=on_batch_progress,
              check_interval=0.0)


def test_early_stopping_stops_and_restores_the_best_epoch(digits):
    from digitlab.ml.train import train

    splits = small_splits(digits, per_label=40)
    # Validate against shuffled labels: the better the network learns the digits, the worse the
    # validation loss gets, so it stops improving within a few epochs.
    shuffled = np.random.default_rng(0).permutation(splits.y_val)
    splits = dataclasses.replace(splits, y_val=shuffled)
    # label_smoothing=0: the history's val_loss is then the plain loss the returned model evaluates with.
    result = train(A.preset("mlp", 10), splits, epochs=40, early_stopping=2, seed=0, label_smoothing=0)
    assert result.stopped == "early_stopping"
    assert result.epochs_run < 40
    losses = [e["val_loss"] for e in result.history]
    assert result.best_epoch == int(np.argmin(losses)) + 1
    assert result.epochs_run == result.best_epoch + 2  # two epochs of patience without improvement
    val_loss, _ = result.model.evaluate(splits.x_val, splits.y_val, verbose=0)
    assert val_loss == pytest.approx(min(losses), abs=1e-4)  # the best weights came back
    assert val_loss < losses[-1]


def test_same_seed_same_run(digits):
    from digitlab.ml.train import train

    runs = [train(A.preset("mlp", 10), small_splits(digits, seed=4), epochs=2, seed=4) for _ in range(2)]
    first, second = (r.history for r in runs)
    for a, b in zip(first, second):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=1e-5)
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
    other = train(A.preset("mlp", 10), small_splits(digits, seed=4), epochs=2, seed=5)
    assert other.history[-1]["val_loss"] != pytest.approx(first[-1]["val_loss"], abs=1e-5)


def test_bad_settings_are_refused_before_training(splits):
    from digitlab.ml.train import train

    with pytest.raises(A.ArchitectureError):
        train([A.Flatten(), A.Dense(units=3, activation="softmax")], splits)  # 3 outputs for 10 labels
    with pytest.raises(ValueError, match="learning_rate"):
        train(A.preset("mlp", 10), splits, learning_rate=0)
    with pytest.raises(ValueError, match="epochs"):
        train(A.preset("mlp", 10), splits, epochs=0)
