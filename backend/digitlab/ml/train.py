"""Build a Keras model from a layer list and train it, reporting every epoch.

TensorFlow is imported inside the functions, never at module import. It is not fork-safe and grows
with repeated ``fit`` calls, so the service runs each training in a fresh (spawned) process.

Notebook use::

    from digitlab.ml import architectures, data, train
    splits = data.split_dataset(images, y, labels=list("0123456789"))
    result = train.train(architectures.preset("cnn", 10), splits, epochs=10, on_epoch=print)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from digitlab.ml import _tf
from digitlab.ml.architectures import (
    DEFAULT_MAX_PARAMS,
    INPUT_SHAPE,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    LayerSpec,
    MaxPooling2D,
    NetworkSummary,
    validate,
)
from digitlab.ml.augment import Augmentation, training_dataset
from digitlab.ml.data import DatasetSplits

if TYPE_CHECKING:  # pragma: no cover
    import keras

LR_SCHEDULES = ("constant", "cosine")
# Measured by benchmarks/generalisation.py (issue 13): with 0.2 (and learning rate 0.002) the CNN preset reads
# other writers' digits better, and the smoothed validation loss keeps improving into the last epochs, so
# early stopping's best epoch is a late one.
LABEL_SMOOTHING = 0.2
HISTORY_KEYS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


class StopReason(StrEnum):
    """Why a training stopped before or at its last epoch."""

    COMPLETED = "completed"
    EARLY_STOPPING = "early_stopping"
    CANCELLED = "cancelled"


@dataclass
class TrainResult:
    """``history`` has one dict per finished epoch with HISTORY_KEYS (``epoch`` counts from 1,
    ``seconds`` is that epoch's wall time including validation). ``best_epoch`` is the epoch with
    the lowest validation loss; with early stopping on, ``model`` holds that epoch's weights,
    otherwise the last epoch's."""

    model: keras.Model
    summary: NetworkSummary
    history: list[dict[str, float]]
    stopped: StopReason
    best_epoch: int | None
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs_run(self) -> int:
        return len(self.history)


def build_model(
    layers: Sequence[LayerSpec | Mapping],
    n_labels: int,
    *,
    max_params: int | None = DEFAULT_MAX_PARAMS,
    seed: int | None = None,
) -> keras.Sequential:
    """The Keras model for a layer list (validated first: raises ArchitectureError). Layers get the
    names from :func:`architectures.validate`, the input is called ``input``. ``seed`` seeds Python,
    numpy and TensorFlow (weight initialisation, dropout, shuffling)."""
    summary = validate(layers, n_labels, max_params=max_params)
    return _build(summary, seed)


def _build(summary: NetworkSummary, seed: int | None) -> keras.Sequential:
    keras = _tf.keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    built: list[Any] = [keras.Input(shape=INPUT_SHAPE, name="input")]
    for layer in summary.layers:
        spec = layer.spec
        if isinstance(spec, Dense):
            built.append(keras.layers.Dense(spec.units, activation=spec.activation, name=layer.name))
        elif isinstance(spec, Conv2D):
            built.append(
                keras.layers.Conv2D(
                    spec.filters,
                    spec.kernel_size,
                    strides=spec.strides,
                    padding=spec.padding,
                    activation=spec.activation,
                    name=layer.name,
                )
            )
        elif isinstance(spec, MaxPooling2D):
            built.append(keras.layers.MaxPooling2D(spec.pool_size, name=layer.name))
        elif isinstance(spec, Flatten):
            built.append(keras.layers.Flatten(name=layer.name))
        elif isinstance(spec, Dropout):
            built.append(keras.layers.Dropout(spec.rate, seed=seed, name=layer.name))
        else:  # pragma: no cover - validate() knows every kind
            raise TypeError(f"Unknown layer spec {spec!r}")
    return keras.Sequential(built, name="digitlab")


def train(
    layers: Sequence[LayerSpec | Mapping],
    splits: DatasetSplits,
    *,
    epochs: int = 30,
    batch_size: int = 32,
    learning_rate: float = 0.002,
    early_stopping: int | None = None,
    augmentation: Augmentation | None = None,
    lr_schedule: str = "constant",
    label_smoothing: float = LABEL_SMOOTHING,
    seed: int = 0,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    on_batch_progress: Callable[[int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_params: int | None = DEFAULT_MAX_PARAMS,
    threads: int | None = None,
    check_interval: float = 0.2,
) -> TrainResult:
    """Train a fresh network on ``splits`` (Adam, categorical cross-entropy, accuracy).

    - ``early_stopping``: patience in epochs on ``val_loss``, or None to always run ``epochs``. When on,
      the returned model has the weights of the best epoch (also when all epochs ran).
    - ``augmentation``: random changes of the training samples, drawn anew every epoch
      (:mod:`digitlab.ml.augment`); None or all ranges 0: the samples as they are.
    - ``lr_schedule``: ``constant``, or ``cosine``: the learning rate falls smoothly to 5 % of
      ``learning_rate`` over the epochs, so the last epochs fine-tune instead of jumping around.
    - ``label_smoothing``: the targets are this much less than certain (0.2: 0.82 for the right label,
      0.02 for each other of 10), in training and in the reported (and early-stopping) losses; 0: plain
      cross-entropy. The returned model is compiled with the plain sparse cross-entropy either way.
    - ``on_epoch(entry)``: called after each epoch with a dict of HISTORY_KEYS (plain floats/ints).
    - ``on_batch_progress(epoch, fraction)``: epoch from 1, fraction of that epoch done (0..1]; called at
      most every ``check_interval`` seconds and at the end of each epoch.
    - ``should_stop()``: polled at each epoch start and at most every ``check_interval`` seconds while
      training; True stops training (result ``stopped == "cancelled"``). An epoch cut short is not
      reported or added to the history.
    - ``threads``: TensorFlow threads (default: available cores); honoured in a fresh process only.

    Exceptions raised by the callbacks propagate (e.g. a job's own cancellation exception).
    The same seed, data and settings give the same split, initial weights and batch order.
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError("epochs and batch_size must be at least 1.")
    if not learning_rate > 0:
        raise ValueError("learning_rate must be positive.")
    if early_stopping is not None and early_stopping < 0:
        raise ValueError("early_stopping (patience) must be 0 or more epochs, or None.")
    if len(splits.x_train) == 0 or len(splits.x_val) == 0:
        raise ValueError("Training needs training and validation samples.")
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}.")
    if not 0 <= label_smoothing < 1:
        raise ValueError("label_smoothing must be at least 0 and below 1.")
    summary = validate(layers, splits.n_labels, max_params=max_params)

    _tf.configure_threads(threads)
    keras = _tf.keras()
    model = _build(summary, seed)
    steps = math.ceil(len(splits.x_train) / batch_size)
    rate: Any = learning_rate
    if lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps, alpha=0.05)
    loss: Any = "sparse_categorical_crossentropy"
    y_train, y_val = splits.y_train, splits.y_val
    if label_smoothing > 0:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
        y_train, y_val = (np.eye(splits.n_labels, dtype=np.float32)[y] for y in (y_train, y_val))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=loss,
        metrics=["accuracy"],
    )
    augmenting = augmentation is not None and augmentation.active
    reporter = _reporter_class(keras)(steps, on_epoch, on_batch_progress, should_stop, check_interval)
    callbacks: list[Any] = [reporter]
    stopper = None
    if early_stopping is not None:
        stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping, restore_best_weights=True)
        callbacks.append(stopper)

    started = time.perf_counter()
    if not (should_stop is not None and should_stop()):
        if augmenting:
            # A seeded endless stream whose batches change anew each epoch (augment.training_dataset).
            stream, _ = training_dataset(splits.x_train, y_train, batch_size, seed, augmentation)
            inputs: dict[str, Any] = {"x": stream, "steps_per_epoch": steps, "shuffle": False}
        else:  # arrays as they are: exactly what a plain Keras script does (benchmarks/training_overhead.py)
            inputs = {"x": splits.x_train, "y": y_train, "batch_size": batch_size, "shuffle": True}
        model.fit(
            **inputs,
            validation_data=(splits.x_val, y_val),
            epochs=epochs,
            verbose=0,
            callbacks=callbacks,
        )
    else:
        reporter.cancelled = True
    seconds = time.perf_counter() - started
    if label_smoothing > 0:  # what a Keras user evaluates with: integer labels, plain cross-entropy
        model.compile(optimizer=model.optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    history = reporter.history
    if reporter.cancelled:
        stopped = StopReason.CANCELLED
    elif stopper is not None and stopper.stopped_epoch > 0 and len(history) < epochs:
        stopped = StopReason.EARLY_STOPPING
    else:
        stopped = StopReason.COMPLETED
    best = min(history, key=lambda h: h["val_loss"] if math.isfinite(h["val_loss"]) else math.inf, default=None)
    best_epoch = best["epoch"] if best else None
    if stopper is not None and stopper.best_weights is not None:
        best_epoch = stopper.best_epoch + 1  # the epoch whose weights the model has now
    settings = {
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "lr_schedule": lr_schedule,
        "label_smoothing": label_smoothing,
        "early_stopping": early_stopping,
        "augmentation": augmentation.to_dict() if augmenting and augmentation is not None else None,
        "seed": seed,
    }
    return TrainResult(
        model=model,
        summary=summary,
        history=history,
        stopped=stopped,
        best_epoch=int(best_epoch) if best_epoch is not None else None,
        seconds=seconds,
        settings=settings,
    )


def _reporter_class(keras: Any) -> type:
    """The callback class (defined on first use: its base class needs Keras)."""
    global _Reporter
    if _Reporter is not None:
        return _Reporter

    class Reporter(keras.callbacks.Callback):
        def __init__(self, steps, on_epoch, on_batch_progress, should_stop, interval):
            super().__init__()
            self.steps, self.interval = steps, interval
            self.on_epoch, self.on_batch_progress, self.should_stop = on_epoch, on_batch_progress, should_stop
            self.history: list[dict[str, float]] = []
            self.cancelled = False
            self._cut_short = False
            self._epoch = 0
            self._epoch_started = 0.0
            self._last_progress = self._last_check = 0.0

        def _stop(self, cut_short: bool) -> None:
            self.cancelled = True
            self._cut_short = cut_short
            self.model.stop_training = True

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch
            self._epoch_started = time.perf_counter()
            if self.should_stop is not None and not self.cancelled and self.should_stop():
                self._stop(cut_short=True)

        # Batch hooks run at the *start* of each batch: Keras dispatches batch-end hooks on a thread
        # pool only while no callback overrides them, and keeping that path makes fit() cost the same
        # as in a plain script. Batch-begin hooks run on the training thread, so exceptions from the
        # caller's callables propagate at once.
        def on_train_batch_begin(self, batch, logs=None):
            if self.cancelled:
                return
            now = time.perf_counter()
            if self.on_batch_progress is not None and batch > 0 and now - self._last_progress >= self.interval:
                self._last_progress = now
                self.on_batch_progress(self._epoch + 1, batch / self.steps)
            if self.should_stop is not None and now - self._last_check >= self.interval:
                self._last_check = now
                if self.should_stop():
                    # Keras finishes this batch, then leaves the epoch.
                    self._stop(cut_short=batch + 1 < self.steps)

        def on_epoch_end(self, epoch, logs=None):
            if self._cut_short:
                return
            logs = logs or {}
            entry = {"epoch": epoch + 1}
            for key in HISTORY_KEYS[1:-1]:
                entry[key] = float(logs.get(key, math.nan))
            entry["seconds"] = time.perf_counter() - self._epoch_started
            self.history.append(entry)
            if self.on_batch_progress is not None:
                self.on_batch_progress(epoch + 1, 1.0)
            if self.on_epoch is not None:
                self.on_epoch(dict(entry))

    _Reporter = Reporter
    return Reporter


_Reporter: type | None = None
