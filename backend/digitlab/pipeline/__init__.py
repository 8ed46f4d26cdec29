"""The extraction pipeline: pure numpy/OpenCV, usable from a notebook without the server.

    from digitlab.pipeline import extract_page
    result = extract_page(gray, labels)   # gray: uint8 page image; raises GridNotFound(reason)
    result.cells[i].status / .reason / .image, result.corners, result.preview

Modules: params (every threshold), normalize (the shared 28x28 contract), flatfield (lighting and scale),
grid (find the grid), warp (trace the lines, rectify), cells (remove lines, assign marks, decide), digit
(samples), sheets (sprite sheets), extract (orchestration and preview). extract.extract_page_debug also
returns the intermediate images and per-step timings.
"""

from digitlab.pipeline.cells import CellStatus
from digitlab.pipeline.extract import CellResult, PageExtraction, extract_page
from digitlab.pipeline.grid import GridNotFound
from digitlab.pipeline.normalize import CONTRACT_VERSION, normalize_sample
from digitlab.pipeline.sheets import sprite_sheet

__all__ = [
    "CONTRACT_VERSION",
    "CellResult",
    "CellStatus",
    "GridNotFound",
    "PageExtraction",
    "extract_page",
    "normalize_sample",
    "sprite_sheet",
]
