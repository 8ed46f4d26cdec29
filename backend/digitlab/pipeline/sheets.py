"""Sprite sheets: many 28x28 samples tiled into one image for viewing (per-label sheets, review pages)."""

import math

import numpy as np

from digitlab.core.contract import CANVAS_SIDE as TILE

SEPARATOR = 1  # px between tiles and around the sheet
SEPARATOR_GREY = 200  # light grey lines: visible between white tiles, quieter than the ink


def sprite_sheet(images: list[np.ndarray], columns: int = 20) -> np.ndarray:
    """uint8 grid of 28x28 tiles, white paper / dark ink (samples are stored 0 = paper, so inverted here).

    Tiles fill row by row; with fewer images than columns the sheet is only as wide as needed. An empty
    list gives one empty tile, so callers can always encode the result.
    """
    if columns < 1:
        raise ValueError("columns must be at least 1")
    n = len(images)
    cols = max(1, min(columns, n))
    rows = max(1, math.ceil(n / cols))
    step = TILE + SEPARATOR
    sheet = np.full((rows * step + SEPARATOR, cols * step + SEPARATOR), 255, dtype=np.uint8)
    sheet[::step, :] = SEPARATOR_GREY
    sheet[:, ::step] = SEPARATOR_GREY
    for i, image in enumerate(images):
        tile = np.asarray(image)
        if tile.shape != (TILE, TILE):
            raise ValueError(f"sample {i} has shape {tile.shape}, expected ({TILE}, {TILE})")
        if tile.dtype != np.uint8:  # accept float samples in [0, 1] from normalize_sample as well
            tile = np.round(np.clip(tile, 0, 1) * 255).astype(np.uint8)
        r, c = divmod(i, cols)
        y, x = SEPARATOR + r * step, SEPARATOR + c * step
        sheet[y : y + TILE, x : x + TILE] = 255 - tile
    return sheet
