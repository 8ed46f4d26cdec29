"""Data augmentation: small random changes of the training samples, fresh in every epoch.

A network that has seen every training sample in a few slightly different forms (turned a little, moved,
bigger or smaller, written with a thinner or thicker pen) reads other people's handwriting better: it
cannot memorise the exact pixels. The changes happen in the input pipeline (a ``tf.data`` map), so the
network itself, its parameter count and its ONNX export stay exactly as they are, and validation and
test samples are never changed.

``Augmentation`` is pure Python (the API validates and shows it without TensorFlow);
:func:`augment_batch` and :func:`training_dataset` import TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from digitlab.ml import _tf

SIDE = 28
_CENTRE = (SIDE - 1) / 2  # pixel centres run 0..27
ELASTIC_GRID = 3  # random moves on a 3x3 grid, smoothly interpolated to every pixel


@dataclass(frozen=True)
class Augmentation:
    """The ranges each training sample's random change is drawn from (uniformly, per sample and epoch).

    - ``rotation``: degrees either way.
    - ``shift``: fraction of the 28-pixel side either way, horizontally and vertically.
    - ``zoom``: relative size change either way (0.1: 90 % to 110 %).
    - ``stroke``: pen thickness change either way, as a fraction of one pixel's growth (1.0: the strokes
      get up to one pixel thicker on every side, or that much thinner).
    - ``elastic``: the largest displacement, in pixels, of a smooth random warp (a 3x3 grid of random moves,
      interpolated): bends strokes the way different writers do.
    """

    rotation: float = 12.0
    shift: float = 0.08
    zoom: float = 0.1
    stroke: float = 0.5
    elastic: float = 2.0

    LIMITS: ClassVar[dict[str, float]] = {"rotation": 45.0, "shift": 0.3, "zoom": 0.3, "stroke": 1.0, "elastic": 4.0}

    def __post_init__(self) -> None:
        for name, limit in self.LIMITS.items():
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= limit):
                raise ValueError(f"Augmentation {name} must be between 0 and {limit}, not {value!r}.")

    def to_dict(self) -> dict[str, float]:
        return {key: float(value) for key, value in asdict(self).items()}

    @property
    def active(self) -> bool:
        return any(getattr(self, name) > 0 for name in self.LIMITS)


def augment_batch(images: Any, augmentation: Augmentation, seed: Any) -> Any:
    """A randomly changed copy of a batch of (N, 28, 28, 1) float images in [0, 1] (TensorFlow tensors
    or numpy), same shape and dtype, values still in [0, 1]. ``seed`` is a stateless seed (two
    integers): the same seed gives the same changes."""
    tf = _tf.tensorflow()
    x = tf.convert_to_tensor(images, dtype=tf.float32)
    n = tf.shape(x)[0]
    a = augmentation
    grid = ELASTIC_GRID * ELASTIC_GRID * 2
    u = tf.random.stateless_uniform([n, 5 + grid], seed=tf.cast(seed, tf.int64), minval=-1.0, maxval=1.0)

    # Stroke thickness first (on the sharp original): blend towards a 3x3 dilation (thicker) or erosion.
    if a.stroke > 0:
        thick = tf.nn.max_pool2d(x, 3, 1, "SAME")
        thin = -tf.nn.max_pool2d(-x, 3, 1, "SAME")
        amount = tf.reshape(u[:, 4] * a.stroke, [-1, 1, 1, 1])
        x = tf.where(amount > 0, x + amount * (thick - x), x - amount * (thin - x))

    # Where each output pixel takes its ink from: the inverse of a rotation and zoom about the centre and a
    # shift, plus a smooth random displacement field (elastic), sampled once (bilinear).
    angle = tf.reshape(u[:, 0] * (a.rotation * math.pi / 180), [-1, 1, 1])
    scale = tf.reshape(1.0 + u[:, 1] * a.zoom, [-1, 1, 1])
    tx = tf.reshape(u[:, 2] * (a.shift * SIDE), [-1, 1, 1])
    ty = tf.reshape(u[:, 3] * (a.shift * SIDE), [-1, 1, 1])
    ys, xs = tf.meshgrid(tf.range(SIDE, dtype=tf.float32), tf.range(SIDE, dtype=tf.float32), indexing="ij")
    dx, dy = xs[None] - _CENTRE - tx, ys[None] - _CENTRE - ty
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    src_x = _CENTRE + cos * dx + sin * dy
    src_y = _CENTRE - sin * dx + cos * dy
    if a.elastic > 0:
        coarse = tf.reshape(u[:, 5:], [-1, ELASTIC_GRID, ELASTIC_GRID, 2]) * a.elastic
        field = tf.image.resize(coarse, [SIDE, SIDE], method="bicubic")
        src_x += field[..., 0]
        src_y += field[..., 1]
    x = _bilinear(tf, x, src_x, src_y)
    return tf.clip_by_value(x, 0.0, 1.0)


def _bilinear(tf: Any, images: Any, src_x: Any, src_y: Any) -> Any:
    """images (N, 28, 28, 1) sampled at (src_x, src_y) (N, 28, 28) pixel coordinates; outside is 0."""
    flat = tf.reshape(images, [-1])
    n = tf.shape(images)[0]
    base = tf.reshape(tf.range(n) * SIDE * SIDE, [-1, 1, 1])
    x0, y0 = tf.floor(src_x), tf.floor(src_y)
    wx, wy = src_x - x0, src_y - y0
    out = tf.zeros_like(src_x)
    for oy, fy in ((0.0, 1.0 - wy), (1.0, wy)):
        for ox, fx in ((0.0, 1.0 - wx), (1.0, wx)):
            cx, cy = x0 + ox, y0 + oy
            inside = (cx >= 0) & (cx <= SIDE - 1) & (cy >= 0) & (cy <= SIDE - 1)
            index = (
                base
                + tf.cast(tf.clip_by_value(cy, 0, SIDE - 1), tf.int32) * SIDE
                + tf.cast(tf.clip_by_value(cx, 0, SIDE - 1), tf.int32)
            )
            out += tf.where(inside, tf.gather(flat, index), 0.0) * fx * fy
    return out[..., None]


def training_dataset(
    x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, augmentation: Augmentation | None
) -> tuple[Any, int]:
    """(An endless, seeded ``tf.data`` stream of shuffled training batches, steps per epoch).

    Each batch is numbered, and its changes are drawn from (seed, number): a new epoch gets new changes,
    and the same seed gives the same stream. Without augmentation the batches are only shuffled."""
    tf = _tf.tensorflow()
    steps = math.ceil(len(x) / batch_size)
    batches = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
    )
    if augmentation is not None and augmentation.active:
        numbered = tf.data.Dataset.zip((batches, tf.data.Dataset.counter()))

        # Plain TensorFlow ops with Python-level branching on the ranges only: nothing for AutoGraph to convert.
        @tf.autograph.experimental.do_not_convert
        def changed(batch: Any, step: Any) -> tuple[Any, Any]:
            images, labels = batch
            return augment_batch(images, augmentation, tf.stack([tf.constant(seed, tf.int64), step])), labels

        batches = numbered.map(changed)
    return batches.prefetch(2), steps


def examples(image: np.ndarray, augmentation: Augmentation, count: int = 8, seed: int = 0) -> np.ndarray:
    """``count`` changed versions of one 28x28 image (uint8 or float in [0, 1]) as uint8 (count, 28, 28):
    what the network may see of that sample during a training."""
    from digitlab.ml.data import prepare_images

    batch = np.repeat(prepare_images(image), count, axis=0)
    changed = augment_batch(batch, augmentation, [seed, 0]).numpy()
    return np.round(changed[..., 0] * 255).astype(np.uint8)
