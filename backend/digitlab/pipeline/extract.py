"""extract_page: one page image in, 600 cell decisions and samples out.

Steps (each a function in its own module):
  1. grid.py     small flat-fielded copy -> the grid's outer quadrilateral (the component with most cells)
  2. warp.py     trace all 31 + 21 lines -> 31 x 21 mesh -> one remap to a rectified page, 48 px per cell
  3. cells.py    flat-field, ink threshold, grid lines removed, marks assigned to cells, decisions
  4. digit.py    each cell's own ink, contrast-stretched -> normalize.py (the shared contract) -> 28 x 28
Coordinates: pixel centres are integers (OpenCV's convention); corners are in the input image's pixels.

On a version 2 sheet step 1 is the corner markers instead (markers.py, through sheet.read_sheet): they give
the grid's corners in the sheet's own order however the page lies, so a page turned by 90, 180 or 270 degrees or
mirrored reads right, and the preview is turned upright. On the legacy grid (no markers) the grid must appear
upright (rotated by well under 45 degrees): a page photographed sideways is refused with a reason; an
upside-down page cannot be told apart from an upright one on the plain grid, so its rows would be read bottom-up
(the decoder applies EXIF orientation, which covers phone photos).
"""

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from digitlab.pipeline import params
from digitlab.pipeline.cells import (
    CellMarks,
    CellStatus,
    assign_marks,
    classify,
    find_components,
    find_line_bands,
    join_crossings,
    remove_grid_lines,
)
from digitlab.pipeline.digit import StretchTables, cell_sample, core_extent
from digitlab.pipeline.flatfield import (
    Pyramid,
    bright_region,
    downscale_int,
    flat_field,
    paper_threshold,
    power_of_two_below,
    to_full,
    to_small,
)
from digitlab.pipeline.grid import GridNotFound, GridQuad, detection_factor, find_grid
from digitlab.pipeline.imageio import as_gray, downscale_to
from digitlab.pipeline.markers import SheetPose, upright
from digitlab.pipeline.sheet import SheetReading, read_sheet
from digitlab.pipeline.template import COLUMNS, ROWS, ROWS_PER_LABEL, label_for_row
from digitlab.pipeline.warp import build_remap, even_mesh, measure_mesh, rectify


@dataclass
class CellResult:
    """One cell's decision. Rejected cells keep their image, so a student can re-include a wrong rejection."""

    row: int
    col: int
    label: str
    status: CellStatus
    reason: str | None  # None when kept; "empty" when blank; params.REJECT_REASONS when rejected
    image: np.ndarray | None  # uint8 28x28, 0 = paper, 255 = ink; None for blank cells


@dataclass
class PageExtraction:
    """The result for one page; kept/blank/rejected counts are properties."""

    corners: list[tuple[float, float]]  # outer grid corners TL, TR, BR, BL in the input image's pixels
    cells: list[CellResult]  # 600, row-major
    preview: np.ndarray  # BGR uint8, long side <= 1200: the page with the detected grid and cell decisions

    @property
    def kept_count(self) -> int:
        return sum(c.status == CellStatus.KEPT for c in self.cells)

    @property
    def blank_count(self) -> int:
        return sum(c.status == CellStatus.BLANK for c in self.cells)

    @property
    def rejected_count(self) -> int:
        return sum(c.status == CellStatus.REJECTED for c in self.cells)


@dataclass
class ExtractionDebug:
    """Intermediate results, for tests, notebooks and the benchmark's profile."""

    mesh: np.ndarray  # (31, 21, 2) line intersections in input-image pixels
    lines_found: float  # fraction of line strips traced
    dark: np.ndarray  # rectified darkness (uint8), CELL_PX per cell, MARGIN_PX margin
    clean: np.ndarray  # rectified ink after grid-line removal (uint8 0/1)
    labels: np.ndarray  # marks' label image over `clean` (CellMarks.ids refer to it)
    threshold: int  # ink threshold on `dark`
    marks: dict[int, CellMarks]  # cell index -> its marks (bboxes in rectified pixels)
    work_factor: int  # input pixels per working-image pixel
    timings: dict[str, float] = field(default_factory=dict)  # ms per step


def extract_page(
    gray: np.ndarray, labels: list[str], reading: SheetReading | None = None, corners: np.ndarray | None = None
) -> PageExtraction:
    """Find the 20 x 30 grid on a page image and decide every cell; raises GridNotFound(reason).

    reading: what sheet.read_sheet found on this same image, when the caller has it already (else the corner
    markers are looked for here). corners: the grid's outer corners TL TR BR BL in the image's pixels, placed by
    hand (a page whose grid was not found or not trusted): then nothing is searched for, and the grid's lines are
    traced from them (or, where they cannot be, spaced evenly between them)."""
    return extract_page_debug(gray, labels, reading, corners)[0]


def extract_page_debug(
    gray: np.ndarray, labels: list[str], reading: SheetReading | None = None, corners: np.ndarray | None = None
) -> tuple[PageExtraction, ExtractionDebug]:
    """extract_page, also returning the intermediate images and per-step timings."""
    gray = _check_input(gray, labels)
    timings: dict[str, float] = {}
    clock = _Clock(timings)

    if corners is not None:
        reading = SheetReading(pose=None, code=None, pyramid=Pyramid(gray))
    if reading is None:
        reading = read_sheet(gray, read_qr=False)
        clock("markers")
    pyramid = reading.pyramid
    if corners is not None:
        mesh, found, detect_level = _locate_grid_by_hand(pyramid, np.asarray(corners, dtype=np.float64), clock)
    elif reading.pose is not None:
        mesh, found, detect_level = _locate_grid_by_markers(pyramid, reading.pose, clock)
    else:
        mesh, found, detect_level = _locate_grid(pyramid, clock)
    cell, margin = params.CELL_PX, params.MARGIN_PX
    # Rectify from the smallest pyramid level that keeps at least CELL_PX per cell (INTER_AREA has already
    # averaged it there, so the bilinear remap does not alias thin lines at 600 dpi).
    work_factor = power_of_two_below(_mean_cell(mesh) / cell)
    work = pyramid.level(work_factor)
    map_x, map_y = build_remap(to_small(mesh, work_factor), cell, margin)
    clock("remap_build")
    rect = rectify(work, map_x, map_y)
    clock("remap")

    dark = flat_field(rect, params.RECT_FLAT_KERNEL)
    threshold = paper_threshold(dark, params.INK_DARK_MIN, params.INK_DARK_MAX)
    ink = (dark > threshold).view(np.uint8)
    clock("flatfield")
    bands = find_line_bands(ink, cell, margin)
    clean = remove_grid_lines(ink, bands)
    clock("lines")
    comps = find_components(clean)
    comps = join_crossings(comps, clean, ink, bands, cell, margin)
    marks = {m.index: m for m in assign_marks(comps, cell, margin)}
    clock("components")

    samples: dict[int, np.ndarray] = {}
    strong: dict[int, float] = {}
    members = np.zeros(len(comps.stats), dtype=bool)
    tables = StretchTables(threshold)
    for index, m in marks.items():
        samples[index], strong[index] = cell_sample(dark, comps.labels, m, tables, members)
    clock("samples")

    page_strong = _typical_strong_ink(marks, strong, cell)
    cells: list[CellResult] = []
    for index in range(ROWS * COLUMNS):
        row, col = divmod(index, COLUMNS)
        label = label_for_row(labels, row)
        mark = marks.get(index)
        if mark is None:
            cells.append(CellResult(row, col, label, CellStatus.BLANK, params.REASON_EMPTY, None))
            continue
        core = None
        if mark.extent < params.SPECK_CORE_CHECK * cell:
            core = core_extent(dark, comps.labels, mark, threshold, int(strong[index]), members)
        status, reason = classify(mark, strong[index], page_strong, cell, core)
        cells.append(CellResult(row, col, label, status, reason, samples[index]))
    clock("decide")

    preview = draw_preview(pyramid, detect_level, mesh, cells)
    if reading.pose is not None:
        preview = upright(preview, reading.pose)
    clock("preview")
    outer = [
        (float(mesh[i, k, 0]), float(mesh[i, k, 1])) for i, k in ((0, 0), (0, COLUMNS), (ROWS, COLUMNS), (ROWS, 0))
    ]
    result = PageExtraction(corners=outer, cells=cells, preview=preview)
    debug = ExtractionDebug(
        mesh=mesh,
        lines_found=found,
        dark=dark,
        clean=clean,
        labels=comps.labels,
        threshold=threshold,
        marks=marks,
        work_factor=work_factor,
        timings=timings,
    )
    return result, debug


class _Clock:
    def __init__(self, timings: dict[str, float]):
        self.timings, self.last = timings, time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + (now - self.last) * 1000
        self.last = now


def _check_input(gray: np.ndarray, labels: list[str]) -> np.ndarray:
    needed = ROWS // ROWS_PER_LABEL
    if len(labels) < needed:
        raise ValueError(f"need {needed} labels (one per {ROWS_PER_LABEL} rows), got {len(labels)}")
    gray = as_gray(gray)
    if min(gray.shape) < params.MIN_IMAGE_SIDE:
        raise GridNotFound(
            f"The image is too small ({gray.shape[1]} x {gray.shape[0]} px) to hold the grid.",
            "page_too_small",
            width=int(gray.shape[1]),
            height=int(gray.shape[0]),
        )
    return gray


def _locate_grid(pyramid: Pyramid, clock: "_Clock") -> tuple[np.ndarray, float, int]:
    """Mesh of line intersections in input pixels, the fraction of lines seen, and the detection copy's
    pyramid factor (reused for the preview).

    Most pages succeed on the first attempt. Harder ones get a more sensitive threshold at the same
    resolution (very thin or faint lines), then the same two on a copy twice as large (a sheet far from the
    camera); the reason reported on failure is the first attempt's, the one a user can act on.
    """
    first = detection_factor(pyramid.level(1).shape, params.DETECT_LONG_SIDE)
    attempts = [(first, False), (first, True)]
    if first > 1:
        attempts += [(first // 2, False), (first // 2, True)]
    error: GridNotFound | None = None
    copies: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for factor, sensitive in attempts:
        if factor not in copies:
            dark, paper = flat_field(detection_copy(pyramid, factor), params.DETECT_FLAT_KERNEL, with_paper=True)
            copies[factor] = dark, bright_region(paper)
        dark, sheet = copies[factor]
        clock("detect_prepare")
        try:
            quad: GridQuad = find_grid(dark, sheet, sensitive)
            clock("detect_grid")
            mesh, found = measure_mesh(dark, quad.corners)
            clock("mesh")
            return to_full(mesh, factor), found, factor
        except GridNotFound as exc:
            clock("detect_grid")
            error = error or exc
    assert error is not None
    raise error


def _locate_grid_by_markers(pyramid: Pyramid, pose: SheetPose, clock: "_Clock") -> tuple[np.ndarray, float, int]:
    """Like _locate_grid, with the grid's corners from the sheet's corner markers (in the sheet's order, however
    the page lies in the image) instead of searched for; the mesh is traced from them the same way."""
    factor = detection_factor(pyramid.level(1).shape, params.DETECT_LONG_SIDE)
    dark = flat_field(detection_copy(pyramid, factor), params.DETECT_FLAT_KERNEL)
    clock("detect_prepare")
    mesh, found = measure_mesh(dark, to_small(pose.grid_corners, factor))
    clock("mesh")
    return to_full(mesh, factor), found, factor


def _locate_grid_by_hand(pyramid: Pyramid, corners: np.ndarray, clock: "_Clock") -> tuple[np.ndarray, float, int]:
    """Like _locate_grid_by_markers, from corners a student placed. Hand-placed corners are trusted: where the
    lines cannot be traced (a very faint or damaged grid), the mesh is the even grid between the corners."""
    if corners.shape != (4, 2) or not np.isfinite(corners).all():
        raise ValueError("corners must be four (x, y) points: top-left, top-right, bottom-right, bottom-left")
    factor = detection_factor(pyramid.level(1).shape, params.DETECT_LONG_SIDE)
    dark = flat_field(detection_copy(pyramid, factor), params.DETECT_FLAT_KERNEL)
    clock("detect_prepare")
    try:
        mesh, found = measure_mesh(dark, to_small(corners, factor))
        mesh = to_full(mesh, factor)
    except GridNotFound:
        mesh, found = even_mesh(corners), 0.0
    clock("mesh")
    return mesh, found, factor


def detection_copy(pyramid: Pyramid, factor: int) -> np.ndarray:
    """The page shrunk by `factor` for finding the grid, with thin lines kept dark.

    Plain averaging turns a 1 px line at 300 dpi into a 0.25-darkness smear at 1/4 size, which breaks up
    when binarised. So the last halving takes, per output pixel, the darkest value of a 3 x 3 neighbourhood
    first (a grey erosion): lines stay dark and about 1 px wide, symmetric, so their positions are unbiased.
    """
    if factor == 1:
        return pyramid.level(1)
    return downscale_int(cv2.erode(pyramid.level(factor // 2), _KERNEL_3X3), 2)


_KERNEL_3X3 = np.ones((3, 3), np.uint8)


def _mean_cell(mesh: np.ndarray) -> float:
    dx = np.linalg.norm(np.diff(mesh, axis=1), axis=2).mean()
    dy = np.linalg.norm(np.diff(mesh, axis=0), axis=2).mean()
    return float((dx + dy) / 2)


def _typical_strong_ink(marks: dict[int, CellMarks], strong: dict[int, float], cell: int) -> float:
    """Median strong darkness of the page's plausible samples: the reference for "too faint"."""
    values = [strong[i] for i, m in marks.items() if m.main_extent >= params.SPECK_MAX_EXTENT * cell]
    return float(np.median(values)) if values else 0.0


def draw_preview(pyramid: Pyramid, factor: int, mesh: np.ndarray, cells: list[CellResult]) -> np.ndarray:
    """BGR preview, long side <= PREVIEW_LONG_SIDE, from the pyramid level `factor` (the detection copy) or
    a smaller one: kept cells tinted green, rejected red, the detected grid lines drawn."""
    while max(pyramid.level(factor).shape) > params.PREVIEW_LONG_SIDE * 1.25:
        factor *= 2  # halving is nearly free; a final fractional shrink only covers the last step
    small = pyramid.level(factor)
    base = cv2.cvtColor(downscale_to(small, params.PREVIEW_LONG_SIDE), cv2.COLOR_GRAY2BGR)
    scale = np.array([base.shape[1] / small.shape[1], base.shape[0] / small.shape[0]])
    mesh_small = (to_small(mesh, factor) + 0.5) * scale - 0.5  # pixel centres of the (re)sized copy
    shift = 4  # draw with sub-pixel precision
    pts = np.round(mesh_small * (1 << shift)).astype(np.int32)
    # every cell's quadrilateral at once: (600, 4, 2), row-major like `cells`
    quads = np.stack([pts[:-1, :-1], pts[:-1, 1:], pts[1:, 1:], pts[1:, :-1]], axis=2).reshape(-1, 4, 2)
    status = np.array([c.status for c in cells])
    overlay = base.copy()
    for name, colour in ((CellStatus.KEPT, (60, 190, 60)), (CellStatus.REJECTED, (50, 50, 230))):
        chosen = quads[status == name]
        if len(chosen):
            cv2.fillPoly(overlay, list(chosen), colour, lineType=cv2.LINE_8, shift=shift)
    a = params.PREVIEW_TINT_ALPHA
    preview = cv2.addWeighted(overlay, a, base, 1 - a, 0)
    lines = [pts[i] for i in range(1, ROWS)] + [np.ascontiguousarray(pts[:, k]) for k in range(1, COLUMNS)]
    cv2.polylines(preview, lines, False, (220, 120, 0), 1, cv2.LINE_AA, shift)
    outline = np.concatenate([pts[0, :], pts[1:, -1], pts[-1, -2::-1], pts[-2:0:-1, 0]])
    cv2.polylines(preview, [outline], True, (220, 60, 0), 2, cv2.LINE_AA, shift)
    return preview
