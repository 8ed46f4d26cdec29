"""Synthetic handwriting-like digits for tests, benchmarks and notebooks (numpy + OpenCV, no downloads).

Each sample is a character drawn with a random Hershey font, stroke width, size, rotation and shear,
then cropped to its ink, scaled to fit 26x26 and centred in 28x28 with a little jitter: uint8,
0 = background, 255 = ink, like the extraction's output. Easy enough that a small network learns
them in a few epochs, varied enough that it has to generalise.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from digitlab.core.contract import CANVAS_SIDE as _SIDE
from digitlab.core.contract import FIT_SIDE as _FIT

_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
)
_CANVAS = 80


def draw_character(char: str, rng: np.random.Generator) -> np.ndarray:
    """One randomly styled 28x28 uint8 image of ``char`` (ASCII)."""
    canvas: np.ndarray = np.zeros((_CANVAS, _CANVAS), np.uint8)
    font = _FONTS[rng.integers(len(_FONTS))]
    scale = rng.uniform(1.6, 2.2) * (1.6 if font == cv2.FONT_HERSHEY_PLAIN else 1.0)
    thickness = int(rng.integers(2, 5))
    (w, h), _ = cv2.getTextSize(char, font, scale, thickness)
    origin = ((_CANVAS - w) // 2, (_CANVAS + h) // 2)
    cv2.putText(canvas, char, origin, font, scale, 255, thickness, cv2.LINE_AA)

    angle = rng.uniform(-15, 15)
    shear = rng.uniform(-0.25, 0.25)
    centre = (_CANVAS / 2, _CANVAS / 2)
    matrix = cv2.getRotationMatrix2D(centre, angle, rng.uniform(0.9, 1.1))
    matrix[0, 1] += shear
    matrix[0, 2] -= shear * centre[1]
    canvas = cv2.warpAffine(canvas, matrix, (_CANVAS, _CANVAS), flags=cv2.INTER_LINEAR)

    ys, xs = np.nonzero(canvas > 50)
    if len(ys) == 0:
        return np.zeros((_SIDE, _SIDE), np.uint8)
    ink: np.ndarray = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    factor = _FIT / max(ink.shape)
    size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
    ink = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    out = np.zeros((_SIDE, _SIDE), np.uint8)
    top = (_SIDE - ink.shape[0]) // 2 + int(rng.integers(-1, 2))
    left = (_SIDE - ink.shape[1]) // 2 + int(rng.integers(-1, 2))
    top = min(max(top, 0), _SIDE - ink.shape[0])
    left = min(max(left, 0), _SIDE - ink.shape[1])
    out[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    return out


def make_digits(
    n_per_label: int = 60, labels: Sequence[str] = "0123456789", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_label`` samples of each label: images uint8 (N, 28, 28) and label indices int64 (N,),
    shuffled. Each label is drawn as its text (``labels`` may be any ASCII characters)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(labels), dtype=np.int64), n_per_label)
    y = y[rng.permutation(len(y))]
    x = (
        np.stack([draw_character(labels[i], rng) for i in y.tolist()])
        if len(y)
        else np.zeros((0, _SIDE, _SIDE), np.uint8)
    )
    return x, y
