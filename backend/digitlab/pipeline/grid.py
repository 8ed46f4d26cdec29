"""Finding the grid's outer quadrilateral on a small, flat-fielded copy of the page.

The grid is told apart from text, the paper's edge in a photo and background texture by its topology: it
is one connected set of lines with hundreds of similar holes (the cells). The outer contour of that
component gives four sides, each refined by a robust line fit, whose intersections are the corners.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

from digitlab.pipeline import params
from digitlab.pipeline.flatfield import paper_threshold, power_of_two_below
from digitlab.pipeline.template import COLUMNS, ROWS


class GridNotFound(Exception):
    """No 20 x 30 grid on the page; `reason` (also str(exc)) says why in words a student understands, `code` and
    `params` the same for a web app that says it in the student's language."""

    def __init__(self, reason: str, code: str, **params: float | int | str):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.params = params


@dataclass
class GridQuad:
    corners: np.ndarray  # (4, 2) float64, TL TR BR BL, outer edge of the outer grid lines
    cell_px: float  # mean cell side length in the same image


def detection_factor(shape: tuple[int, int], long_side: int) -> int:
    """Power-of-two shrink factor giving a copy whose long side is below long_side (and above half of it)."""
    return power_of_two_below(max(shape) / (long_side / 2)) if max(shape) >= long_side else 1


def find_grid(dark: np.ndarray, sheet: np.ndarray | None = None, sensitive: bool = False) -> GridQuad:
    """Outer quadrilateral of the 20 x 30 grid in a uint8 darkness image; raises GridNotFound.

    sheet: optional mask of the bright sheet (the threshold learns the noise there); sensitive: a lower
    binarisation threshold, for a second attempt when the lines are very thin or faint.
    """
    if sensitive:
        threshold = paper_threshold(
            dark,
            params.GRID_DARK_MIN_SENSITIVE,
            params.GRID_DARK_MAX_SENSITIVE,
            params.NOISE_SIGMAS_SENSITIVE,
            where=sheet,
        )
    else:
        threshold = paper_threshold(dark, params.GRID_DARK_MIN, params.GRID_DARK_MAX, where=sheet)
    binary = (dark > threshold).view(np.uint8)
    _check_busy(binary)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None or len(contours) == 0:
        raise GridNotFound("The page is empty: no lines or writing were found. Is this the right page?", "page_empty")
    component, hole_areas = _grid_component(tuple(contours), hierarchy[0][:, 3])
    points = contours[component].reshape(-1, 2).astype(np.float64)
    # An empty cell's hole: digits touching two lines split many cells into smaller holes, so the median
    # would underestimate it; a high percentile is an intact cell.
    cell_hole = float(np.percentile(hole_areas, params.CELL_HOLE_PERCENTILE))
    rough = _rough_corners(cv2.convexHull(contours[component]).reshape(-1, 2).astype(np.float64))
    rough_cell = math.sqrt(max(_quad_area(rough), 1.0) / (COLUMNS * ROWS))
    corners = rough
    for _ in range(params.SIDE_FIT_ROUNDS):  # each round's sides gate the next, pulling in a rough corner
        corners = _fit_sides(points, corners, rough_cell)
    _check_shape(corners, cell_hole)
    cell = math.sqrt(_quad_area(corners) / (COLUMNS * ROWS))
    return GridQuad(corners=corners, cell_px=cell)


def _check_busy(binary: np.ndarray) -> None:
    """Refuse noise-like images early: tracing contours in them is slow (seconds) and pointless."""
    if cv2.countNonZero(binary) <= params.BUSY_INK_FRACTION * binary.size:
        return
    marks = cv2.connectedComponents(binary, connectivity=8, ltype=cv2.CV_32S)[0]
    holes = cv2.connectedComponents(1 - binary, connectivity=4, ltype=cv2.CV_32S)[0]
    if max(marks, holes) > params.BUSY_MAX_MARKS:
        raise GridNotFound(
            "No grid found: the image is mostly noise or texture. Upload a scan or photo of the printed grid sheet.",
            "page_noise",
        )


def _grid_component(contours: tuple, parent: np.ndarray) -> tuple[int, np.ndarray]:
    """Index of the outer contour with the most cell-like holes, and those holes' areas."""
    holes = np.flatnonzero(parent >= 0)
    min_perimeter = 4 * math.sqrt(params.MIN_HOLE_AREA)
    lengths = np.fromiter((len(contours[i]) for i in holes), dtype=np.int64, count=len(holes))
    holes = holes[lengths >= min_perimeter]  # cheap pre-filter before computing areas
    areas = np.fromiter((cv2.contourArea(contours[i]) for i in holes), dtype=np.float64, count=len(holes))
    keep = areas >= params.MIN_HOLE_AREA
    holes, areas = holes[keep], areas[keep]
    if holes.size == 0:
        raise GridNotFound(
            "No grid found: the page has no ruled cells. Upload a scan of the printed grid sheet.", "no_ruled_cells"
        )
    owners = parent[holes]
    counts = np.bincount(owners)
    best, best_cells, best_areas = -1, 0, areas[:0]
    for owner in np.argsort(counts)[::-1][:3]:  # the few components with most holes; pick the most cell-like
        mine = areas[owners == owner]
        if mine.size == 0:
            continue
        median = np.median(mine)
        lo, hi = params.CELL_HOLE_RANGE
        cell_like = mine[(mine >= lo * median) & (mine <= hi * median)]
        if cell_like.size > best_cells:
            best, best_cells, best_areas = int(owner), int(cell_like.size), cell_like
    if best_cells < params.GRID_MIN_CELL_HOLES:
        raise GridNotFound(
            f"No grid found: the largest ruled area has only {best_cells} closed cells "
            f"(a sheet has {COLUMNS * ROWS}). Is the whole grid on the page, in focus and not too dark?",
            "grid_incomplete",
            cells=int(best_cells),
            expected=COLUMNS * ROWS,
        )
    return best, best_areas


def _order_corners(points: np.ndarray) -> np.ndarray:
    """Four points -> TL, TR, BR, BL (clockwise on screen, starting nearest the image's top-left)."""
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    cyclic = points[np.argsort(angles)]
    start = int(np.argmin(cyclic.sum(axis=1)))
    return np.roll(cyclic, -start, axis=0)


def _rough_corners(hull: np.ndarray) -> np.ndarray:
    """Approximate corners from the convex hull: a 4-gon approximation, else the diagonal extremes."""
    perimeter = cv2.arcLength(hull.astype(np.float32), True)
    approx = cv2.approxPolyDP(hull.astype(np.float32), 0.02 * perimeter, True).reshape(-1, 2)
    if len(approx) == 4:
        return _order_corners(approx.astype(np.float64))
    s, d = hull.sum(axis=1), hull[:, 0] - hull[:, 1]
    extremes = hull[[np.argmin(s), np.argmax(d), np.argmax(s), np.argmin(d)]]
    return _order_corners(extremes)


def _fit_sides(points: np.ndarray, rough: np.ndarray, cell: float) -> np.ndarray:
    """Refine each side by a robust line fit to the contour points near it; corners = side intersections."""
    lines = []
    for k in range(4):
        a, b = rough[k], rough[(k + 1) % 4]
        length = float(np.linalg.norm(b - a))
        u = (b - a) / max(length, 1e-9)
        n = np.array([-u[1], u[0]])
        rel = points - a
        t = rel @ u / max(length, 1e-9)
        dist = rel @ n
        trim = params.SIDE_FIT_TRIM
        near = (t > trim) & (t < 1 - trim) & (np.abs(dist) < params.SIDE_FIT_GATE * cell)
        if near.sum() >= 10:
            vx, vy, x0, y0 = cv2.fitLine(points[near].astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
            lines.append((np.array([x0, y0], dtype=np.float64), np.array([vx, vy], dtype=np.float64)))
        else:
            lines.append((a, u))
    corners = [_intersect(lines[(k - 1) % 4], lines[k]) for k in range(4)]
    return np.array(corners, dtype=np.float64)


def _intersect(l1: tuple[np.ndarray, np.ndarray], l2: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    (p, r), (q, s) = l1, l2
    denom = r[0] * s[1] - r[1] * s[0]
    if abs(denom) < 1e-9:
        raise GridNotFound("No grid found: the detected grid outline is degenerate.", "grid_degenerate")
    t = ((q[0] - p[0]) * s[1] - (q[1] - p[1]) * s[0]) / denom
    return p + t * r


def _quad_area(c: np.ndarray) -> float:
    x, y = c[:, 0], c[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _check_shape(corners: np.ndarray, cell_hole: float) -> None:
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)  # top, right, bottom, left
    aspect = (sides[1] + sides[3]) / max(sides[0] + sides[2], 1e-9)
    lo, hi = params.GRID_ASPECT_RANGE
    if 1 / hi <= aspect <= 1 / lo:
        raise GridNotFound(
            "The grid is sideways: rotate the image so the page is upright (30 rows top to bottom).", "grid_sideways"
        )
    if not lo <= aspect <= hi:
        raise GridNotFound(
            f"Found a grid, but its shape (height/width {aspect:.2f}) is not the 20 x 30 sheet.",
            "grid_wrong_shape",
            aspect=round(float(aspect), 2),
        )
    cells = _quad_area(corners) / max(cell_hole, 1.0)
    lo, hi = params.GRID_CELL_COUNT_RANGE
    if not lo <= cells <= hi:
        raise GridNotFound(
            f"Found a grid, but it has about {cells:.0f} cells; the sheet has {COLUMNS * ROWS}.",
            "grid_wrong_cell_count",
            cells=round(float(cells)),
            expected=COLUMNS * ROWS,
        )
