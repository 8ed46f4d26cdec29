"""Rectification: from the grid's rough quadrilateral to a mesh of true line intersections, then one remap.

A homography from four corners is exact only for a flat sheet and exact corners. Phone lenses bend lines
and a corner can be off by a pixel or two, so every one of the 31 + 21 lines is traced on a small
rectified copy, fitted (quadratic: enough for lens curvature), and intersected. The resulting 31 x 21 mesh
drives a piecewise-bilinear map, applied with a single cv2.remap to the working-resolution page.
"""

import cv2
import numpy as np

from digitlab.pipeline import params
from digitlab.pipeline.grid import GridNotFound
from digitlab.pipeline.template import COLUMNS, ROWS

H_LINES = ROWS + 1  # 31 horizontal lines
V_LINES = COLUMNS + 1  # 21 vertical lines


def canonical_corners(cell: float, margin: float) -> np.ndarray:
    """Outer grid corners TL TR BR BL in a rectified image with this cell size and margin."""
    w, h = COLUMNS * cell, ROWS * cell
    return np.array(
        [[margin, margin], [margin + w, margin], [margin + w, margin + h], [margin, margin + h]], dtype=np.float64
    )


def even_mesh(corners: np.ndarray) -> np.ndarray:
    """(31, 21, 2) line intersections of a flat grid with these outer corners TL TR BR BL (one homography)."""
    to_page = cv2.getPerspectiveTransform(
        canonical_corners(1.0, 0.0).astype(np.float32), np.asarray(corners, dtype=np.float32)
    )
    ys, xs = np.mgrid[0:H_LINES, 0:V_LINES].astype(np.float64)
    grid = np.stack([xs, ys], axis=-1).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(grid, to_page).reshape(H_LINES, V_LINES, 2)


def cell_cutout(gray: np.ndarray, corners: np.ndarray, row: int, col: int, size: int = 112) -> np.ndarray:
    """One cell as it is on the page, upright, with a quarter cell of its neighbours around it (size x size px):
    what the extraction looked at there, for a student to see why a cell was dropped. corners: the grid's outer
    corners TL TR BR BL in gray's pixels (the sheet's own order, so a turned or mirrored page comes out upright)."""
    mesh = even_mesh(corners)
    quad = np.array([mesh[row, col], mesh[row, col + 1], mesh[row + 1, col + 1], mesh[row + 1, col]], np.float32)
    pad = size / 6  # a quarter of the cell (which spans 2/3 of the output) on each side
    square = np.array([[pad, pad], [size - pad, pad], [size - pad, size - pad], [pad, size - pad]], np.float32)
    to_cutout = cv2.getPerspectiveTransform(quad, square)
    return cv2.warpPerspective(gray, to_cutout, (size, size), flags=cv2.INTER_LINEAR, borderValue=255)


def measure_mesh(dark: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, float]:
    """(31, 21, 2) x, y of every line intersection in `dark`'s coordinates, and the fraction of line strips seen.

    dark: uint8 darkness image; corners: rough TL TR BR BL of the grid in it. Raises GridNotFound when the
    lines cannot be traced (too few seen, or not evenly spaced: not our grid).
    """
    c = params.MESH_CELL_PX
    m = c  # one cell of margin, so the outer lines' search windows stay inside the image
    width, height = COLUMNS * c + 2 * m, ROWS * c + 2 * m
    to_page = cv2.getPerspectiveTransform(canonical_corners(c, m).astype(np.float32), corners.astype(np.float32))
    warped = cv2.warpPerspective(
        dark,
        to_page,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    k = max(3, round(params.MESH_OPEN_FRACTION * c))
    # An opening along the line direction keeps long lines and drops digit strokes shorter than k.
    horiz = cv2.morphologyEx(warped, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    vert = cv2.morphologyEx(warped, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    # Per-strip profiles: each horizontal line measured once per cell column, each vertical once per row.
    h_profile = horiz[:, m : m + COLUMNS * c].reshape(height, COLUMNS, c).sum(axis=2, dtype=np.float32)
    v_profile = vert[m : m + ROWS * c, :].reshape(ROWS, c, width).sum(axis=1, dtype=np.float32).T
    y_centres = m + np.arange(H_LINES) * c
    x_centres = m + np.arange(V_LINES) * c
    h_off, h_ok = _trace(h_profile, y_centres, c)
    v_off, v_ok = _trace(v_profile, x_centres, c)
    found = float(h_ok.sum() + v_ok.sum()) / (h_ok.size + v_ok.size)
    if found < params.MESH_MIN_FOUND:
        raise GridNotFound(
            f"Grid lines could not be traced (only {found:.0%} visible). Is the sheet in focus and evenly lit?",
            "grid_lines_faint",
            visible=round(float(found), 2),
        )
    strip_x = m + (np.arange(COLUMNS) + 0.5) * c
    strip_y = m + (np.arange(ROWS) + 0.5) * c
    h_coef = _fit_lines(strip_x, y_centres[:, None] + h_off, h_ok, y_centres, c, "horizontal")
    v_coef = _fit_lines(strip_y, x_centres[:, None] + v_off, v_ok, x_centres, c, "vertical")
    xs, ys = _intersections(h_coef, v_coef, x_centres, y_centres)
    grid = np.stack([xs, ys], axis=-1).reshape(-1, 1, 2)
    mesh = cv2.perspectiveTransform(grid, to_page).reshape(H_LINES, V_LINES, 2)
    return mesh, found


def _trace(profile: np.ndarray, centres: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel offset of each line from its expected position, per strip, and whether it was seen.

    profile: (length, strips) summed line darkness; centres: expected positions (N,).
    """
    w = round(params.MESH_SEARCH * cell)
    window = np.arange(-w, w + 1)
    block = profile[centres[:, None] + window[None, :]]  # (N, 2w+1, strips)
    block = block - block.min(axis=1, keepdims=True)
    peak = block.argmax(axis=1)  # (N, strips)
    strength = block.max(axis=1)
    around = np.clip(peak[:, None, :] + np.arange(-2, 3)[None, :, None], 0, 2 * w)
    values = np.take_along_axis(block, around, axis=1)
    centroid = (values * around).sum(axis=1) / np.maximum(values.sum(axis=1), 1e-6)
    floor = max(params.MESH_MIN_STRENGTH * cell * 255, params.MESH_REL_STRENGTH * float(np.median(strength)))
    return centroid - w, strength >= floor


def _fit_lines(
    t: np.ndarray, pos: np.ndarray, ok: np.ndarray, expected: np.ndarray, cell: int, name: str
) -> np.ndarray:
    """Quadratic fit pos = f(t) for every line at once, robust to a few bad strips.

    Returns rows [a, b, c, mid, span]: pos = a*tn^2 + b*tn + c with tn = (t - mid) / span. Lines seen in
    too few strips are interpolated from their neighbours (the offset from the expected position varies
    smoothly across the sheet).
    """
    mid, span = t.mean(), max(np.ptp(t) / 2, 1.0)
    tn = (t - mid) / span
    coef, good = _robust_fits(tn, pos, ok)
    n = len(expected)
    missing = n - int(good.sum())
    if missing > params.MESH_MAX_MISSING_LINES:
        raise GridNotFound(
            f"{missing} of the {n} {name} grid lines could not be traced. Is the whole grid on the page and in focus?",
            "grid_lines_missing",
            missing=int(missing),
            total=int(n),
        )
    if missing:
        idx = np.arange(n)
        coef[:, 2] -= expected
        for j in range(3):
            coef[~good, j] = np.interp(idx[~good], idx[good], coef[good, j])
        coef[:, 2] += expected
    # Neighbouring lines must be about a cell apart at every strip: a grid found one cell too small at a
    # corner makes two fitted lines lock onto the same printed line there.
    spacing = np.diff(_evaluate(coef, tn), axis=0) / cell
    lo, hi = params.MESH_SPACING_RANGE
    if spacing.min() < lo or spacing.max() > hi:
        raise GridNotFound(
            f"The {name} grid lines are not evenly spaced: this is not the 20 x 30 sheet, or the page is folded.",
            "grid_lines_uneven",
        )
    return np.concatenate([coef, np.full((n, 1), mid), np.full((n, 1), span)], axis=1)


def _weighted_fits(t: np.ndarray, y: np.ndarray, w: np.ndarray, degree: int) -> np.ndarray:
    """Least-squares polynomials (coefficients [a, b, c], highest first, zero-padded) for all rows at once."""
    v = np.stack([t**k for k in range(degree, -1, -1)], axis=1)  # (S, degree+1)
    a = np.einsum("ns,sk,sl->nkl", w, v, v) + 1e-9 * np.eye(degree + 1)  # ridge: rows without points
    b = np.einsum("ns,sk,ns->nk", w, v, y)
    sol = np.linalg.solve(a, b[..., None])[..., 0]
    return np.concatenate([np.zeros((len(y), 2 - degree)), sol], axis=1)


def _evaluate(coef: np.ndarray, t: np.ndarray) -> np.ndarray:
    return (coef[:, 0:1] * t + coef[:, 1:2]) * t + coef[:, 2:3]


def _robust_fits(t: np.ndarray, y: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row quadratic through the points, ignoring outliers (a digit's bar mistaken for the line).

    Outliers are found against a straight-line fit first: a quadratic through an outlier at the end of a
    line bends towards it and would hide it. Rows with fewer than 8 points get a straight line.
    """
    sel = ok.copy()
    line = _weighted_fits(t, y, sel.astype(np.float64), 1)
    resid = np.abs(_evaluate(line, t) - y)
    # median residual over each row's points (rows without points: 0); the unused entries sort last
    counts = sel.sum(axis=1)
    ordered = np.sort(np.where(sel, resid, np.inf), axis=1)
    mad = np.where(counts > 0, ordered[np.arange(len(y)), np.maximum(counts - 1, 0) // 2], 0.0)
    sel &= resid <= np.maximum(params.MESH_OUTLIER_PX, 4.5 * mad)[:, None]
    quad = line
    for step in range(2):
        w = sel.astype(np.float64)
        enough = (sel.sum(axis=1) >= 8)[:, None]
        quad = np.where(enough, _weighted_fits(t, y, w, 2), _weighted_fits(t, y, w, 1))
        if step == 0:
            sel &= np.abs(_evaluate(quad, t) - y) <= params.MESH_OUTLIER_PX
    return quad, sel.sum(axis=1) >= params.MESH_MIN_POINTS


def _poly(coef: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Evaluate quadratic rows [a, b, c, mid, span] at t (broadcasting)."""
    tn = (t - coef[..., 3]) / coef[..., 4]
    return (coef[..., 0] * tn + coef[..., 1]) * tn + coef[..., 2]


def _intersections(
    h_coef: np.ndarray, v_coef: np.ndarray, x_centres: np.ndarray, y_centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Solve y = h_i(x), x = v_k(y) for all (i, k) by fixed-point iteration (lines are near axis-parallel)."""
    x = np.broadcast_to(x_centres[None, :].astype(np.float64), (H_LINES, V_LINES))
    y = np.broadcast_to(y_centres[:, None].astype(np.float64), (H_LINES, V_LINES))
    hc, vc = h_coef[:, None, :], v_coef[None, :, :]
    for _ in range(5):
        y = _poly(hc, x)
        x = _poly(vc, y)
    return x, y


def _lerp_along(values: np.ndarray, axis: int, cell: float, margin: float, positions: np.ndarray) -> np.ndarray:
    """Linear interpolation of mesh values along `axis` (vertex v at pixel margin + v * cell) at positions;
    positions in the margin extrapolate the edge cell. Two gathers and a blend: no BLAS, whose threads stall
    on a busy 2-core machine."""
    n = values.shape[axis]
    t = (positions - margin) / cell
    k = np.clip(np.floor(t), 0, n - 2).astype(np.int64)
    u = t - k
    shape = [1] * values.ndim
    shape[axis] = len(t)
    u = u.reshape(shape)
    return np.take(values, k, axis=axis) * (1 - u) + np.take(values, k + 1, axis=axis) * u


def build_remap(mesh: np.ndarray, cell: int, margin: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 maps for cv2.remap: rectified pixel -> source position, bilinear inside each mesh cell.

    Piecewise-bilinear interpolation on a tensor-product mesh is separable (interpolate along the rows of
    the mesh, then along its columns). It is evaluated exactly on a grid REMAP_COARSE times coarser, at the
    positions cv2.resize maps the fine pixel centres to, and cv2.resize interpolates the rest: the map is
    linear between mesh lines, so this only rounds off the kinks at the lines (< 0.05 px) and costs a
    fraction of evaluating every pixel.
    """
    f = params.REMAP_COARSE
    height, width = ROWS * cell + 2 * margin, COLUMNS * cell + 2 * margin
    if height % f or width % f:
        raise ValueError("rectified size must be a multiple of REMAP_COARSE")
    # cv2.resize by an exact factor f samples coarse pixel j at fine position f * j + (f - 1) / 2
    xs = np.arange(width // f) * f + (f - 1) / 2
    ys = np.arange(height // f) * f + (f - 1) / 2
    coarse = _lerp_along(_lerp_along(mesh, 1, cell, margin, xs), 0, cell, margin, ys).astype(np.float32)
    return (
        cv2.resize(np.ascontiguousarray(coarse[..., 0]), (width, height), interpolation=cv2.INTER_LINEAR),
        cv2.resize(np.ascontiguousarray(coarse[..., 1]), (width, height), interpolation=cv2.INTER_LINEAR),
    )


def rectify(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """One bilinear remap; outside the source counts as white paper."""
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255)
