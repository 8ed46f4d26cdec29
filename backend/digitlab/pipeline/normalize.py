"""The shared preprocessing contract (shared/preprocessing/CONTRACT.md, version 1).

Browser and server must turn a drawn or scanned sample into the *same* 28x28 network input, so this module
implements the contract text literally: threshold, crop to the ink's bounding box, area-resample so the
longer side is 26, centre in 28x28. No OpenCV here on purpose - its interpolation is not specified
precisely enough to re-implement in JavaScript.
"""

from functools import lru_cache

import numpy as np

# The contract's constants live in core.contract (their one source); re-exported here for the pipeline.
from digitlab.core.contract import CANVAS_SIDE, CONTRACT_VERSION, FIT_SIDE, INK_THRESHOLD

__all__ = [
    "CANVAS_SIDE",
    "CONTRACT_VERSION",
    "FIT_SIDE",
    "INK_THRESHOLD",
    "area_matrix",
    "fitted_size",
    "ink_bbox",
    "normalize_clipped",
    "normalize_sample",
]


def fitted_size(h: int, w: int) -> tuple[int, int]:
    """Size after scaling (h, w) so the longer side is FIT_SIDE.

    round_half_up(FIT_SIDE * s / m) computed in integers (floor((2*26*s + m) / (2*m))), so every language
    gets bit-identical sizes without floating-point ties.
    """
    m = max(h, w)
    new_h = max(1, (2 * FIT_SIDE * h + m) // (2 * m))
    new_w = max(1, (2 * FIT_SIDE * w + m) // (2 * m))
    return new_h, new_w


@lru_cache(maxsize=512)
def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out x n_in) exact box-filter weights: row i averages input span [i*n_in/n_out, (i+1)*n_in/n_out).

    Cached because the extraction calls it for hundreds of cells with few distinct sizes.
    """
    i = np.arange(n_out, dtype=np.float64)
    lo = (i * n_in / n_out)[:, None]
    hi = ((i + 1) * n_in / n_out)[:, None]
    k = np.arange(n_in, dtype=np.float64)[None, :]
    overlap = np.clip(np.minimum(hi, k + 1) - np.maximum(lo, k), 0.0, None)
    weights = overlap / overlap.sum(axis=1, keepdims=True)
    weights.setflags(write=False)  # shared through the cache
    return weights


def ink_bbox(ink: np.ndarray, threshold: float = INK_THRESHOLD) -> tuple[int, int, int, int] | None:
    """Half-open bounding box (y0, y1, x0, x1) of ink > threshold, or None without ink."""
    mask = ink > threshold
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def normalize_sample(ink: np.ndarray) -> np.ndarray:
    """Ink intensity (0 = paper, 1 = ink; any HxW) -> float32 28x28 per the shared contract, version 1."""
    a = np.asarray(ink, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D ink array, got shape {a.shape}")
    # Contract step 1: NaN counts as paper, +inf as full ink, everything clipped to [0, 1].
    a = np.clip(np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    return normalize_clipped(a)


def normalize_clipped(a: np.ndarray) -> np.ndarray:
    """Contract steps 2-6 for an array already finite and in [0, 1]."""
    a = np.asarray(a, dtype=np.float64)  # the threshold test must happen in double precision, as specified
    out = np.zeros((CANVAS_SIDE, CANVAS_SIDE), dtype=np.float32)
    if a.size == 0:
        return out
    box = ink_bbox(a)
    if box is None:
        return out
    y0, y1, x0, x1 = box
    crop = a[y0:y1, x0:x1]
    h, w = crop.shape
    new_h, new_w = fitted_size(h, w)
    resized = area_matrix(h, new_h) @ crop @ area_matrix(w, new_w).T
    top = (CANVAS_SIDE - new_h) // 2
    left = (CANVAS_SIDE - new_w) // 2
    out[top : top + new_h, left : left + new_w] = resized
    np.clip(out, 0.0, 1.0, out=out)  # rounding in the products can step a hair outside [0, 1]
    return out
