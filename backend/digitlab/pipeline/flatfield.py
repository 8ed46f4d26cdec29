"""Resolution and lighting helpers shared by grid detection and cell analysis.

Darkness images are uint8: 0 = paper, 255 = black, after dividing out the paper brightness, so shadows,
uneven scanner light and the colour of the paper do not matter to any later threshold.
"""

from typing import Literal, overload

import cv2
import numpy as np

from digitlab.pipeline import params


def downscale_int(gray: np.ndarray, factor: int) -> np.ndarray:
    """INTER_AREA shrink by an integer factor (each output pixel = mean of a factor x factor block).

    The image is first cropped to a multiple of the factor (losing < factor px at the right/bottom edge):
    OpenCV then takes its exact integer fast path, ~5-10x quicker than a fractional INTER_AREA.
    """
    if factor <= 1:
        return gray
    h, w = gray.shape[:2]
    h2, w2 = h // factor, w // factor
    return cv2.resize(gray[: h2 * factor, : w2 * factor], (w2, h2), interpolation=cv2.INTER_AREA)


class Pyramid:
    """The page and its halvings (factor 1, 2, 4, ...), each made from the previous level on demand.

    OpenCV halves an image with INTER_AREA ~10x faster than it shrinks by 3 or 4 in one step (a SIMD
    special case), and detection, rectification and preview all want a copy of the page at some
    power-of-two scale; each level pixel is the mean of a factor x factor block of the page (up to
    rounding).
    """

    def __init__(self, gray: np.ndarray):
        self.levels = {1: gray}

    def level(self, factor: int) -> np.ndarray:
        if factor not in self.levels:
            if factor < 1 or factor & (factor - 1):
                raise ValueError(f"factor must be a power of two, got {factor}")
            self.levels[factor] = downscale_int(self.level(factor // 2), 2)
        return self.levels[factor]


def power_of_two_below(value: float) -> int:
    """Largest power of two <= value (at least 1)."""
    factor = 1
    while factor * 2 <= value:
        factor *= 2
    return factor


def to_full(points: np.ndarray, factor: int) -> np.ndarray:
    """Coordinates in a downscale_int copy -> the original image (pixel centres are integers)."""
    return np.asarray(points, dtype=np.float64) * factor + (factor - 1) / 2.0


def to_small(points: np.ndarray, factor: int) -> np.ndarray:
    """Coordinates in the original image -> a downscale_int copy."""
    return (np.asarray(points, dtype=np.float64) - (factor - 1) / 2.0) / factor


@overload
def flat_field(gray: np.ndarray, kernel: int, block: int = ..., with_paper: Literal[False] = False) -> np.ndarray: ...


@overload
def flat_field(
    gray: np.ndarray, kernel: int, block: int = ..., *, with_paper: Literal[True]
) -> tuple[np.ndarray, np.ndarray]: ...


def flat_field(
    gray: np.ndarray, kernel: int, block: int = params.FLAT_BLOCK, with_paper: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """uint8 darkness = 255 * (1 - gray / paper), paper estimated by a max-filter on a 1/block copy.

    The max-filter must be wider than any stroke or line so it always reaches paper; blurring it afterwards
    keeps the estimate smooth so its block structure does not print into the result. with_paper: also
    return the paper brightness estimate (at full size).
    """
    h, w = gray.shape
    small = downscale_int(gray, block)
    if small.shape[0] < 2 or small.shape[1] < 2:
        small = gray
    paper = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, kernel)))
    paper = cv2.blur(paper, (kernel, kernel))
    paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)
    ratio = cv2.divide(gray, paper, scale=255.0)  # saturates at 255 where the pixel is brighter than paper
    dark = cv2.bitwise_not(ratio)
    return (dark, paper) if with_paper else dark


def paper_threshold(
    dark: np.ndarray, lo: int, hi: int, sigmas: float = params.NOISE_SIGMAS, where: np.ndarray | None = None
) -> int:
    """Darkness threshold between paper and marks: paper median + `sigmas` robust sigmas, in [lo, hi].

    where: optional bool mask of the pixels to learn the noise from (the sheet, not the table around it).
    Uses a histogram of a subsample (median and MAD from it): exact enough, and ~50x quicker than np.median.
    """
    step = params.NOISE_SAMPLE_STEP
    sample = dark[::step, ::step]
    if where is not None:
        sample = sample[where[::step, ::step]]
    hist = np.bincount(sample.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        return lo
    cdf = np.cumsum(hist)
    median = int(np.searchsorted(cdf, total / 2))
    deviation = np.abs(np.arange(256) - median)
    dev_hist = np.bincount(deviation, weights=hist, minlength=256)
    mad = int(np.searchsorted(np.cumsum(dev_hist), total / 2))
    sigma = 1.4826 * max(mad, 1)
    return int(np.clip(round(median + sigmas * sigma), lo, hi))


def bright_region(paper: np.ndarray) -> np.ndarray:
    """Where the paper estimate is bright: the sheet (even in a shadow), not a darker table around it."""
    reference = float(np.percentile(paper[::8, ::8], 99))
    return paper >= params.SHEET_BRIGHTNESS * reference
