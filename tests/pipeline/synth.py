"""Synthetic scans and phone photos of the grid sheet, with ground truth (nothing is downloaded).

render_sheet() draws the printed sheet (A4_SHEET geometry, chosen dpi and line width, optional label text
and title like our printed sheet) and "handwriting": stroke templates for 0-9 with random jitter, size,
slant, rotation and stroke width, plus cv2's Hershey fonts; black, blue or pencil ink; specks; blank cells;
digits that deliberately touch or cross a cell line into a blank neighbour. scan() and phone_photo() then
degrade it. Everything is deterministic from the seed. Also used by benchmarks/extraction_speed.py.

Coordinates: pixel centres are integers (OpenCV's convention), like the pipeline's corners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from digitlab.pipeline.template import A4_SHEET, COLUMNS, DIGIT_LABELS, ROWS, ROWS_PER_LABEL

DIGIT = "digit"
BLANK = "blank"
SPECK = "speck"


@dataclass
class SynthPage:
    gray: np.ndarray  # uint8 page image
    truth: list[str]  # per cell, row-major: DIGIT | BLANK | SPECK
    digits: list[int | None]  # the digit written in each cell
    corners: np.ndarray  # (4, 2) TL TR BR BL: outer grid line centres' intersections, in gray's pixels
    cell_px: float  # approximate cell size in gray's pixels
    crossings: list[tuple[int, int]] = field(default_factory=list)  # (cell, neighbour it crosses into)
    touching: list[int] = field(default_factory=list)  # cells whose digit touches or overlaps a grid line
    boxes: dict[int, np.ndarray] = field(default_factory=dict)  # cell -> (4, 2) its digit's ink box TL TR BR BL
    name: str = ""


# ---------------------------------------------------------------- stroke templates (unit box, y down)

def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 28) -> np.ndarray:
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _poly(*pts: tuple[float, float]) -> np.ndarray:
    return np.array(pts, dtype=np.float64)


def _template(digit: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Polylines of one digit in a unit box (x right, y down), with a little style variation."""
    if digit == 0:
        start = rng.uniform(-110, -70)
        return [_arc(0.5, 0.5, 0.5, 0.5, start, start + rng.uniform(355, 375), 40)]
    if digit == 1:
        stem = _poly((0.55, 0.0), (0.5, 1.0))
        if rng.random() < 0.5:
            return [np.concatenate([_poly((0.25, 0.22)), stem])]
        return [stem]
    if digit == 2:
        top = _arc(0.5, 0.28, 0.45, 0.28, 190, 390)
        return [np.concatenate([top, _poly((0.0, 1.0), (1.0, 1.0))])]
    if digit == 3:
        return [np.concatenate([_arc(0.5, 0.25, 0.42, 0.25, 200, 450), _arc(0.5, 0.74, 0.48, 0.26, 270, 520)])]
    if digit == 4:
        if rng.random() < 0.5:
            return [_poly((0.75, 1.0), (0.75, 0.0), (0.0, 0.68), (1.0, 0.68))]
        return [_poly((0.3, 0.0), (0.05, 0.6), (1.0, 0.6)), _poly((0.75, 0.2), (0.75, 1.0))]
    if digit == 5:
        return [np.concatenate([_poly((0.95, 0.0), (0.2, 0.0)), _arc(0.5, 0.68, 0.45, 0.32, 225, 510)])]
    if digit == 6:
        return [np.concatenate([_poly((0.8, 0.0), (0.4, 0.18), (0.12, 0.5)), _arc(0.5, 0.7, 0.45, 0.3, 180, 540)])]
    if digit == 7:
        lines = [_poly((0.0, 0.0), (1.0, 0.0), (0.35, 1.0))]
        if rng.random() < 0.3:
            lines.append(_poly((0.35, 0.5), (0.9, 0.5)))
        return lines
    if digit == 8:
        return [_arc(0.5, 0.25, 0.38, 0.25, 90, 450), _arc(0.5, 0.74, 0.46, 0.26, -90, 270)]
    if digit == 9:
        return [_arc(0.5, 0.3, 0.45, 0.3, 0, 360), _poly((0.95, 0.3), (0.85, 1.0))]
    raise ValueError(digit)


def _densify(pts: np.ndarray, step: float = 0.04) -> np.ndarray:
    """Resample a polyline so consecutive points are <= step apart (corners survive the smoothing)."""
    out = [pts[:1]]
    for a, b in zip(pts[:-1], pts[1:]):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        out.append(a + (b - a) * (np.arange(1, n + 1) / n)[:, None])
    return np.concatenate(out)


def _jitter(lines: list[np.ndarray], rng: np.random.Generator, amount: float) -> list[np.ndarray]:
    """Smooth wobble: per-point noise, then a 3-point moving average (keeps strokes hand-like, not jagged)."""
    out = []
    for pts in lines:
        pts = _densify(pts)
        p = pts + rng.normal(0, amount, pts.shape)
        if len(p) >= 3:
            p[1:-1] = (p[:-2] + p[1:-1] + p[2:]) / 3
        out.append(p)
    return out


# ---------------------------------------------------------------- inks

@dataclass(frozen=True)
class Ink:
    strength: tuple[float, float]  # how much of the paper's brightness the ink removes
    grain: tuple[float, float] | None  # pencil: per-pixel strength multiplier range
    stroke_mm: tuple[float, float]


INKS = {
    # luminance of a black ballpoint/gel pen on white ~25-45
    "black": Ink((0.82, 0.9), None, (0.35, 0.8)),
    # blue ballpoint, RGB ~(40, 60, 160): luminance 0.299R + 0.587G + 0.114B ~ 65-95 on white
    "blue": Ink((0.62, 0.74), None, (0.35, 0.8)),
    # HB pencil: light grey and grainy
    "pencil": Ink((0.42, 0.58), (0.55, 1.0), (0.3, 0.6)),
    # faint pencil pressed lightly: half to two thirds of a black pen's contrast (0.82-0.9), thin, a little grain
    "faint": Ink((0.43, 0.58), (0.8, 1.0), (0.25, 0.45)),
}


# ---------------------------------------------------------------- drawing

def _composite(page: np.ndarray, cov: np.ndarray, x0: int, y0: int, strength: float,
               grain: np.ndarray | None) -> None:
    """page[y0:, x0:] *= 1 - strength * coverage (multiplicative, like ink absorbing light)."""
    h, w = cov.shape
    region = page[y0:y0 + h, x0:x0 + w]
    a = cov.astype(np.float32) * (strength / 255.0)
    if grain is not None:
        a *= grain
    region[...] = np.clip(region.astype(np.float32) * (1.0 - a), 0, 255).astype(np.uint8)


def _digit_shape(digit: int, height: float, stroke: float, rng: np.random.Generator,
                 hershey: bool) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Coverage image (uint8) of one digit, and its ink bbox relative to the image centre (x0, y0, x1, y1)."""
    aspect = rng.uniform(0.45, 0.75)
    slant = rng.uniform(-0.25, 0.25)
    angle = math.radians(rng.uniform(-8, 8))
    width = height * aspect
    pad = int(math.ceil(stroke + 2))
    size = int(math.ceil(max(height, width) * 1.6)) + 2 * pad
    c = size / 2
    affine = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) @ np.array(
        [[1.0, slant], [0.0, 1.0]])
    canvas = np.zeros((size, size), np.uint8)
    if not hershey:
        lines = _jitter(_template(digit, rng), rng, 0.012)
        shift = 4
        polys = []
        for pts in lines:
            q = (pts - 0.5) * np.array([width, height])
            q = q @ affine.T + c
            polys.append(np.round(q * (1 << shift)).astype(np.int32))
        cv2.polylines(canvas, polys, False, 255, max(1, int(round(stroke))), cv2.LINE_AA, shift)
    else:
        font = [cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_COMPLEX,
                cv2.FONT_HERSHEY_DUPLEX][rng.integers(4)]
        big = 4.0
        (tw, th), base = cv2.getTextSize(str(digit), font, big, 1)
        glyph = np.zeros((th + base + 40, tw + 40), np.uint8)
        thick = max(1, int(round(0.8 * stroke * th / height)))
        cv2.putText(glyph, str(digit), (20, th + 20), font, big, 255, thick, cv2.LINE_AA)
        ys, xs = np.nonzero(glyph)
        gx0, gx1, gy0, gy1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        s = height / (gy1 - gy0)
        m = np.array([[s, 0, -s * (gx0 + gx1) / 2], [0, s, -s * (gy0 + gy1) / 2]])
        lin = affine @ m[:, :2]
        m2 = np.concatenate([lin, (affine @ m[:, 2])[:, None] + c], axis=1)
        canvas = cv2.warpAffine(glyph, m2, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    ys, xs = np.nonzero(canvas > 40)
    if len(xs) == 0:
        return canvas, (0.0, 0.0, 0.0, 0.0)
    return canvas, (xs.min() - c, ys.min() - c, xs.max() + 1 - c, ys.max() + 1 - c)


def _paste(page: np.ndarray, cov: np.ndarray, cx: float, cy: float, strength: float,
           grain_range: tuple[float, float] | None, rng: np.random.Generator) -> None:
    size = cov.shape[0]
    x0, y0 = int(round(cx - size / 2)), int(round(cy - size / 2))
    # clip to the page
    ox0, oy0 = max(0, -x0), max(0, -y0)
    ox1, oy1 = size - max(0, x0 + size - page.shape[1]), size - max(0, y0 + size - page.shape[0])
    cov = cov[oy0:oy1, ox0:ox1]
    grain = None
    if grain_range is not None:
        grain = rng.uniform(*grain_range, size=cov.shape).astype(np.float32)
        grain = cv2.blur(grain, (2, 2))
    _composite(page, cov, x0 + ox0, y0 + oy0, strength, grain)


def render_sheet(dpi: float = 300, line_px: int = 3, ink: str = "black", seed: int = 0, text: bool = True,
                 digit_frac: float = 0.8, speck_frac: float = 0.07, n_cross: int = 8, hershey_frac: float = 0.35,
                 touch_frac: float = 0.12, size_range: tuple[float, float] = (0.35, 0.85),
                 speck_style: str = "dots") -> SynthPage:
    """A clean page at `dpi`: the printed grid (with a printer's offset and scale) and handwriting."""
    rng = np.random.default_rng(seed)
    g = A4_SHEET
    ppm = dpi / 25.4
    width, height = round(g.page_width_mm * ppm), round(g.page_height_mm * ppm)
    paper = int(rng.integers(238, 252))
    page = np.full((height, width), paper, np.uint8)

    # Printer: the grid lands a few mm off and slightly scaled ("fit to page").
    scale = rng.uniform(0.97, 1.0)
    cell = g.cell_mm * scale * ppm
    gx = (g.grid_left_mm + rng.uniform(-3, 3)) * ppm
    gy = (g.grid_top_mm + rng.uniform(-2, 3)) * ppm
    xs = np.array([int(round(gx + k * cell - line_px / 2)) for k in range(COLUMNS + 1)])
    ys = np.array([int(round(gy + i * cell - line_px / 2)) for i in range(ROWS + 1)])
    line_grey = int(rng.integers(20, 60))
    top, bottom = ys[0], ys[-1] + line_px
    left, right = xs[0], xs[-1] + line_px
    for x in xs:
        page[top:bottom, x:x + line_px] = line_grey
    for y in ys:
        page[y:y + line_px, left:right] = line_grey
    centre_x = xs + (line_px - 1) / 2  # true line centres
    centre_y = ys + (line_px - 1) / 2
    corners = np.array([[centre_x[0], centre_y[0]], [centre_x[-1], centre_y[0]],
                        [centre_x[-1], centre_y[-1]], [centre_x[0], centre_y[-1]]], dtype=np.float64)

    if text:  # like the printed sheet: a title above the grid and each group's label left of it
        font_scale = 3.0 * ppm / 22.0  # ~3 mm capitals
        th = max(1, int(round(0.3 * ppm)))
        cv2.putText(page, "Digit Lab - sheet 1   Name: ______________   Class: ______",
                    (int(left), int(top - 4 * ppm)), cv2.FONT_HERSHEY_SIMPLEX, font_scale, 40, th, cv2.LINE_AA)
        for grp in range(ROWS // ROWS_PER_LABEL):
            yc = centre_y[grp * ROWS_PER_LABEL] + 1.5 * cell
            cv2.putText(page, DIGIT_LABELS[grp], (int(left - 8 * ppm), int(yc + 1.5 * ppm)),
                        cv2.FONT_HERSHEY_SIMPLEX, font_scale, 40, th, cv2.LINE_AA)

    truth, digits, crossings, touching, boxes = write_cells(
        page, centre_x, centre_y, line_px, cell, ppm, rng, ink=ink, digit_frac=digit_frac, speck_frac=speck_frac,
        n_cross=n_cross, hershey_frac=hershey_frac, touch_frac=touch_frac, size_range=size_range,
        speck_style=speck_style)

    return SynthPage(gray=page, truth=truth, digits=digits, corners=corners, cell_px=cell,
                     crossings=crossings, touching=touching, boxes=boxes,
                     name=f"{dpi:.0f}dpi-{ink}-lw{line_px}-s{seed}")


def write_cells(page: np.ndarray, centre_x: np.ndarray, centre_y: np.ndarray, line_px: float, cell: float,
                ppm: float, rng: np.random.Generator, ink: str = "black", digit_frac: float = 0.8,
                speck_frac: float = 0.07, n_cross: int = 8, hershey_frac: float = 0.35, touch_frac: float = 0.12,
                size_range: tuple[float, float] = (0.35, 0.85), speck_style: str = "dots",
                ) -> tuple[list[str], list[int | None], list[tuple[int, int]], list[int], dict[int, np.ndarray]]:
    """Handwriting into the grid whose line centres are centre_x (21) and centre_y (31), in place: digits (the
    row's label), specks and blank cells, some digits touching or crossing a line. Returns the ground truth
    (truth, digits, crossings, touching, boxes) as in SynthPage.

    speck_style "dots": 1-3 small round dots per speck cell (0.16-0.5 mm); "varied": what lands in blank cells
    in real life, sized in millimetres so a dot is the same dot at any resolution: round dots 0.2-1.0 mm,
    pen touch-downs (short ticks up to 1.2 mm), a cluster of fine dust, in the page's ink."""
    n = ROWS * COLUMNS
    roll = rng.random(n)
    truth = [DIGIT if r < digit_frac else SPECK if r < digit_frac + speck_frac else BLANK for r in roll]
    digits: list[int | None] = [None] * n

    # Crossing digits: a written cell whose digit reaches over a line into a blank neighbour.
    crossings: list[tuple[int, int]] = []
    used: set[int] = set()
    directions = [(0, 1), (0, -1), (1, 0), (-1, 0)]
    for idx in rng.permutation(n):
        if len(crossings) >= n_cross:
            break
        r, c = divmod(int(idx), COLUMNS)
        dr, dc = directions[rng.integers(4)]
        nr, nc = r + dr, c + dc
        if not (0 <= nr < ROWS and 0 <= nc < COLUMNS):
            continue
        nb = nr * COLUMNS + nc
        if idx in used or nb in used:
            continue
        truth[idx], truth[nb] = DIGIT, BLANK
        crossings.append((int(idx), nb))
        used.update({int(idx), nb})
    crossing_dir = {a: (b // COLUMNS - a // COLUMNS, b % COLUMNS - a % COLUMNS) for a, b in crossings}

    spec = INKS[ink]
    strength_base = rng.uniform(*spec.strength)
    touching: list[int] = []
    boxes: dict[int, np.ndarray] = {}
    half = line_px / 2
    for idx in range(n):
        r, c = divmod(idx, COLUMNS)
        cx0, cx1 = centre_x[c] + half, centre_x[c + 1] - half  # cell interior
        cy0, cy1 = centre_y[r] + half, centre_y[r + 1] - half
        if truth[idx] == SPECK and speck_style == "varied":
            _varied_speck(page, (cx0 + ppm, cx1 - ppm), (cy0 + ppm, cy1 - ppm), ppm, strength_base, spec, rng)
            continue
        if truth[idx] == SPECK:
            for _ in range(rng.integers(1, 4)):
                rad = rng.uniform(0.08, 0.25) * ppm
                px, py = rng.uniform(cx0 + ppm, cx1 - ppm), rng.uniform(cy0 + ppm, cy1 - ppm)
                size = int(2 * rad + 6)
                cov = np.zeros((size, size), np.uint8)
                cv2.circle(cov, (size * 8, size * 8), max(1, int(rad * 16)), 255, -1, cv2.LINE_AA, 4)
                _paste(page, cov, px, py, strength_base, spec.grain, rng)
            continue
        if truth[idx] != DIGIT:
            continue
        digit = r // ROWS_PER_LABEL
        digits[idx] = digit
        crossing = crossing_dir.get(idx)
        lo_size = max(size_range[0], 0.55) if crossing else size_range[0]
        h_px = rng.uniform(lo_size, size_range[1]) * cell
        stroke = max(1.0, rng.uniform(*spec.stroke_mm) * ppm)
        cov, (bx0, by0, bx1, by1) = _digit_shape(digit, h_px, stroke, rng, rng.random() < hershey_frac)
        bw, bh = bx1 - bx0, by1 - by0
        # Shrink the allowed range if the glyph is wider than the cell (it then touches both sides).
        px_lo, px_hi = cx0 - bx0, cx1 - bx1
        py_lo, py_hi = cy0 - by0, cy1 - by1
        if px_lo > px_hi:
            px_lo = px_hi = (px_lo + px_hi) / 2
        if py_lo > py_hi:
            py_lo = py_hi = (py_lo + py_hi) / 2
        px, py = rng.uniform(px_lo, px_hi), rng.uniform(py_lo, py_hi)
        touched = False
        if crossing:
            dr, dc = crossing
            over = rng.uniform(0.12, 0.3)
            if dc == 1:
                px = centre_x[c + 1] + over * bw - bx1
            elif dc == -1:
                px = centre_x[c] - over * bw - bx0
            elif dr == 1:
                py = centre_y[r + 1] + over * bh - by1
            else:
                py = centre_y[r] - over * bh - by0
            touched = True
        elif rng.random() < touch_frac:
            side = rng.integers(4)  # push the glyph onto one of its cell's lines
            if side == 0:
                px = centre_x[c] - bx0
            elif side == 1:
                px = centre_x[c + 1] - bx1
            elif side == 2:
                py = centre_y[r] - by0
            else:
                py = centre_y[r + 1] - by1
            touched = True
        if touched:
            touching.append(idx)
        _paste(page, cov, px, py, strength_base * rng.uniform(0.95, 1.05), spec.grain, rng)
        # ink box in page pixels (pixel centres): the coverage pixel k sits at round(p - size/2) + k
        mid = cov.shape[0] / 2  # the coverage image is square
        x0, y0 = round(px - mid) + mid, round(py - mid) + mid  # its centre as _paste placed it
        boxes[idx] = np.array([[x0 + bx0, y0 + by0], [x0 + bx1 - 1, y0 + by0],
                               [x0 + bx1 - 1, y0 + by1 - 1], [x0 + bx0, y0 + by1 - 1]])


    return truth, digits, crossings, touching, boxes


def _varied_speck(page: np.ndarray, xs: tuple[float, float], ys: tuple[float, float], ppm: float, strength: float,
                  spec: Ink, rng: np.random.Generator) -> None:
    """One blank cell's stray mark: a dot, a pen touch-down (short tick) or a cluster of dust, in mm."""
    kind = rng.choice(["dot", "tick", "dust"], p=[0.5, 0.3, 0.2])
    px, py = rng.uniform(*xs), rng.uniform(*ys)
    size = int(2.5 * ppm + 8)
    cov = np.zeros((size, size), np.uint8)
    c16 = size * 8  # centre, at 4 bits of sub-pixel precision
    if kind == "dot":
        rad = rng.uniform(0.1, 0.5) * ppm
        cv2.circle(cov, (c16, c16), max(1, int(rad * 16)), 255, -1, cv2.LINE_AA, 4)
    elif kind == "tick":
        length, a = rng.uniform(0.4, 1.2) * ppm, rng.uniform(0, np.pi)
        dx, dy = 0.5 * length * np.cos(a) * 16, 0.5 * length * np.sin(a) * 16
        width = max(1, round(rng.uniform(*spec.stroke_mm) * ppm))
        cv2.line(cov, (int(c16 - dx), int(c16 - dy)), (int(c16 + dx), int(c16 + dy)), 255, width, cv2.LINE_AA, 4)
    else:
        for _ in range(rng.integers(3, 7)):
            ox, oy = rng.uniform(-0.6, 0.6, 2) * ppm * 16
            cv2.circle(cov, (int(c16 + ox), int(c16 + oy)), max(1, int(rng.uniform(0.05, 0.15) * ppm * 16)), 255,
                       -1, cv2.LINE_AA, 4)
    _paste(page, cov, px, py, strength, spec.grain, rng)


# ---------------------------------------------------------------- degradations

def _lighting(shape: tuple[int, int], rng: np.random.Generator, depth: float) -> np.ndarray:
    """Smooth multiplicative light field in [1 - depth, 1]: a gradient plus a soft blob, built small."""
    h, w = shape
    sh, sw = 48, max(2, round(48 * w / h))
    y, x = np.mgrid[0:sh, 0:sw].astype(np.float32)
    phi = rng.uniform(0, 2 * np.pi)
    ramp = (x / sw) * math.cos(phi) + (y / sh) * math.sin(phi)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    by, bx = rng.uniform(0, sh), rng.uniform(0, sw)
    blob = np.exp(-((y - by) ** 2 + (x - bx) ** 2) / (2 * (0.3 * sh) ** 2))
    f = 1 - depth * (0.7 * ramp + 0.3 * blob)
    return cv2.resize(f.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def _finish(img: np.ndarray, rng: np.random.Generator, blur: float, noise: float, jpeg: int | None) -> np.ndarray:
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if noise > 0:
        n = rng.standard_normal(img.shape, dtype=np.float32) * noise
        img = np.clip(img.astype(np.float32) + n, 0, 255).astype(np.uint8)
    if jpeg:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img


def _apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(pts.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)


def scan(page: SynthPage, seed: int = 0, rotate: float = 0.0, perspective: float = 0.0, lighting: float = 0.0,
         blur: float = 0.0, noise: float = 0.0, jpeg: int | None = None) -> SynthPage:
    """A flatbed scan: the page rotated (degrees) on a light scanner bed, optional slight keystone
    (perspective = max corner displacement as a fraction of the page width), uneven light, blur, noise, JPEG."""
    rng = np.random.default_rng(seed + 1000)
    img = page.gray
    h, w = img.shape
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float64)
    a = math.radians(rotate)
    centre = np.array([w / 2, h / 2])
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    dst = (src - centre) @ rot.T + centre
    dst += rng.uniform(-perspective, perspective, dst.shape) * w
    pad = 0.01 * w
    shift = -dst.min(axis=0) + pad
    dst += shift
    out_w, out_h = int(math.ceil(dst[:, 0].max() + pad)), int(math.ceil(dst[:, 1].max() + pad))
    hm = cv2.getPerspectiveTransform(src.astype(np.float32), dst.astype(np.float32))
    bed = int(rng.integers(225, 245))
    if rotate or perspective:
        img = cv2.warpPerspective(img, hm, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=bed)
        corners = _apply_h(hm, page.corners)
        boxes = {k: _apply_h(hm, v) for k, v in page.boxes.items()}
    else:
        corners, boxes = page.corners.copy(), dict(page.boxes)
    if lighting > 0:
        img = np.clip(img.astype(np.float32) * _lighting(img.shape, rng, lighting), 0, 255).astype(np.uint8)
    img = _finish(img, rng, blur, noise, jpeg)
    return replace(page, gray=img, corners=corners, boxes=boxes, name=f"scan-{page.name}-r{rotate:+.0f}")


def phone_photo(page: SynthPage, seed: int = 0, frame: tuple[int, int] = (1500, 2000), fill: float = 0.86,
                tilt: float = 0.12, rotate: float | None = None, shadow: float = 0.4, jpeg: int = 80,
                warm: bool = False, shadow_width: tuple[float, float] = (0.06, 0.12)) -> SynthPage:
    """The page photographed: strong perspective (top edge `tilt` narrower), on a darker textured table,
    a soft shadow band across it (darkening by `shadow`), uneven light, lower resolution, JPEG. frame = (width,
    height). warm: warm indoor light (red > green > blue), saved as a colour JPEG (chroma subsampled) that is
    then read as grey, as the service does. shadow_width: half-width range of the band, in page heights."""
    rng = np.random.default_rng(seed + 2000)
    fw, fh = frame
    h, w = page.gray.shape
    # Where the page lands: a centred rectangle, its top edge narrowed (camera tilted), rotated, jittered.
    ph = fill * fh
    pw = ph * w / h
    if pw > 0.95 * fw:
        pw, ph = 0.95 * fw, 0.95 * fw * h / w
    cx, cy = fw / 2 + rng.uniform(-0.03, 0.03) * fw, fh / 2 + rng.uniform(-0.03, 0.03) * fh
    top_half = pw / 2 * (1 - tilt)
    quad = np.array([[-top_half, -ph / 2], [top_half, -ph / 2], [pw / 2, ph / 2], [-pw / 2, ph / 2]])
    a = math.radians(rng.uniform(-8, 8) if rotate is None else rotate)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    quad = quad @ rot.T + [cx, cy] + rng.uniform(-0.02, 0.02, (4, 2)) * [fw, fh]
    src = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    hm = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    sheet = cv2.warpPerspective(page.gray, hm, (fw, fh), flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = cv2.warpPerspective(np.full((h, w), 255, np.uint8), hm, (fw, fh), flags=cv2.INTER_LINEAR, borderValue=0)

    # Table: darker, with low-frequency blotches and wood-like grain.
    base = rng.uniform(70, 120)
    blotch = cv2.resize(rng.normal(0, 1, (8, 6)).astype(np.float32), (fw, fh), interpolation=cv2.INTER_CUBIC)
    y, x = np.mgrid[0:fh, 0:fw].astype(np.float32)
    grain = np.sin(2 * np.pi * (x + 40 * blotch) / rng.uniform(18, 40))
    table = base + 18 * blotch + 10 * grain + rng.normal(0, 6, (fh, fw)).astype(np.float32)
    af = alpha.astype(np.float32) / 255
    img = af * sheet.astype(np.float32) + (1 - af) * table

    # Light: overall gradient, then a soft shadow band (an arm or the phone) across the sheet.
    img *= _lighting((fh, fw), rng, 0.25)
    if shadow > 0:
        phi = rng.uniform(0, np.pi)
        s = (x - cx) * math.cos(phi) + (y - cy) * math.sin(phi)
        centre = rng.uniform(-0.2, 0.2) * ph
        half = rng.uniform(*shadow_width) * ph
        soft = rng.uniform(25, 50)
        band = 1 / (1 + np.exp(-(s - centre + half) / soft)) - 1 / (1 + np.exp(-(s - centre - half) / soft))
        img *= 1 - shadow * band
    img = np.clip(img, 0, 255).astype(np.uint8)
    if warm:
        # tungsten-like light: blue dimmed most; the sensor's noise is per channel; one colour JPEG
        colour = np.stack([img * rng.uniform(0.55, 0.7), img * rng.uniform(0.8, 0.9), img.astype(np.float32)], 2)
        colour += rng.standard_normal(colour.shape, dtype=np.float32) * 4.0
        colour = cv2.GaussianBlur(np.clip(colour, 0, 255).astype(np.uint8), (0, 0), 0.7)
        _, buf = cv2.imencode(".jpg", colour, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    else:
        img = _finish(img, rng, blur=0.7, noise=4.0, jpeg=jpeg)
    scale = float(np.linalg.norm(quad[1] - quad[0]) + np.linalg.norm(quad[2] - quad[3])) / (2 * w)
    return replace(page, gray=img, corners=_apply_h(hm, page.corners), cell_px=page.cell_px * scale,
                   boxes={k: _apply_h(hm, v) for k, v in page.boxes.items()}, name=f"phone-{page.name}")
