"""Cell decisions on the rectified page: remove the grid lines, find the marks, give each cell its marks.

Grid lines are removed only inside narrow bands around the 31 + 21 known line positions (measured on the
rectified page). Where a digit reaches over a line, the removal cuts off its overshoot; join_crossings puts
the two parts (and the line pixels under the stroke) back together, so the part that crossed into the
neighbour cell belongs to this digit's sample. Each mark then belongs to the cell holding its centroid.
"""

from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from digitlab.pipeline import params
from digitlab.pipeline.template import COLUMNS, ROWS


@dataclass
class LineBands:
    horizontal: list[tuple[int, int] | None]  # per line: removed rows [a, b), None if the line is not visible
    vertical: list[tuple[int, int] | None]  # per line: removed columns [a, b)


@dataclass
class CellMarks:
    """The marks (connected components) assigned to one cell, in rectified-image coordinates."""

    index: int  # row * COLUMNS + col
    ids: np.ndarray  # component labels
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 (half-open) of their union
    area: int  # ink pixels
    main_area: int  # pixels of the largest mark
    main_extent: int  # longer bbox side of the largest-extent mark
    strays: list[int] = field(default_factory=list)  # tiny marks far from the sample, left out of it

    @property
    def extent(self) -> int:
        return max(self.bbox[2] - self.bbox[0], self.bbox[3] - self.bbox[1])


@dataclass
class Components:
    labels: np.ndarray  # uint16 (or int32) label image of the cleaned ink
    stats: np.ndarray  # cv2 stats: x, y, w, h, area (merged groups: on the root, area 0 on the others)
    centroids: np.ndarray
    groups: np.ndarray | None = None  # label -> root label after join_crossings (None: no merges)


def find_line_bands(ink: np.ndarray, cell: int, margin: int) -> LineBands:
    """Rows/columns occupied by each grid line, from how much of each row/column along the grid is ink."""
    grid_w, grid_h = COLUMNS * cell, ROWS * cell
    row_fill = cv2.reduce(ink[:, margin : margin + grid_w], 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() / grid_w
    col_fill = cv2.reduce(ink[margin : margin + grid_h, :], 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() / grid_h
    return LineBands(
        horizontal=[_band(row_fill, margin + i * cell, cell) for i in range(ROWS + 1)],
        vertical=[_band(col_fill, margin + k * cell, cell) for k in range(COLUMNS + 1)],
    )


def _band(fill: np.ndarray, centre: int, cell: int) -> tuple[int, int] | None:
    """The run of line rows around the strongest row near `centre`, widened by the slack.

    Rows through the digits of a grid row are ~5-15 % ink, so the line's edge rows must stand clearly above
    the window's median; the band may also grow only a little beyond the line's core.
    """
    s = round(params.LINE_SEARCH * cell)
    lo, hi = max(centre - s, 0), min(centre + s + 1, len(fill))
    window = fill[lo:hi]
    if window.size == 0:
        return None
    edge_level = max(params.LINE_EDGE_FILL, float(np.median(window)) + params.LINE_EDGE_ABOVE_MEDIAN)
    if window.max() < edge_level:
        return None  # the line is too faint to be ink here: nothing to remove
    peak = int(window.argmax())
    core_level = max(edge_level, params.LINE_CORE_FILL * float(window[peak]))
    core_a, core_b = peak, peak + 1
    while core_a > 0 and window[core_a - 1] >= core_level:
        core_a -= 1
    while core_b < len(window) and window[core_b] >= core_level:
        core_b += 1
    a, b = core_a, core_b
    while a > max(core_a - params.LINE_EDGE_MAX_PX, 0) and window[a - 1] >= edge_level:
        a -= 1
    while b < min(core_b + params.LINE_EDGE_MAX_PX, len(window)) and window[b] >= edge_level:
        b += 1
    return max(lo + a - params.LINE_SLACK_PX, 0), min(lo + b + params.LINE_SLACK_PX, len(fill))


def remove_grid_lines(ink: np.ndarray, bands: LineBands) -> np.ndarray:
    """uint8 0/1 ink with every line band cleared (crossing strokes are put back by join_crossings)."""
    clean = ink.copy()
    for band in bands.horizontal:
        if band:
            clean[band[0] : band[1], :] = 0
    for band in bands.vertical:
        if band:
            clean[:, band[0] : band[1]] = 0
    return clean


def find_components(clean: np.ndarray) -> Components:
    """8-connected marks with their stats. 16-bit labels are ~2x faster; a page of noise with more than
    65535 marks falls back to 32-bit."""
    try:
        _, labels, stats, centroids = cv2.connectedComponentsWithStats(clean, connectivity=8, ltype=cv2.CV_16U)
    except cv2.error:
        _, labels, stats, centroids = cv2.connectedComponentsWithStats(clean, connectivity=8, ltype=cv2.CV_32S)
    return Components(labels=labels, stats=stats, centroids=centroids)


def join_crossings(
    comps: Components, clean: np.ndarray, ink: np.ndarray, bands: LineBands, cell: int, margin: int
) -> Components:
    """Re-join strokes that the line removal cut where a digit crosses a grid line.

    Where marks on both sides of a band line up, the side that reaches less far past the line is an
    overshoot of the other when it is shallow (FRAGMENT_MAX_DEPTH_*), much shallower than the other side
    and has less ink: then the band pixels between them are put back and all of them become one mark. Two
    digits that merely touch a line from both sides both reach far, so they stay separate.
    """
    n = len(comps.stats)
    parent = np.arange(n)
    s = comps.stats.astype(np.int64)
    boxes = np.stack([s[:, 0], s[:, 1], s[:, 0] + s[:, 2], s[:, 1] + s[:, 3], s[:, 4]], axis=1)  # per root
    context = _CellContext(boxes, comps.centroids, cell, margin)
    merged = False
    for axis, band_list, labels, clean_v, ink_v in (
        (1, bands.horizontal, comps.labels, clean, ink),
        (0, bands.vertical, comps.labels.T, clean.T, ink.T),
    ):  # transposed views: bands become rows
        max_depth = (params.FRAGMENT_MAX_DEPTH_ROWS if axis == 1 else params.FRAGMENT_MAX_DEPTH_COLS) * cell
        for a, b, s0, e0 in _crossing_runs(labels, band_list):
            merged |= _join_run(labels, clean_v, ink_v, a, b, s0, e0, boxes, parent, axis, max_depth, cell, context)
    if not merged:
        return comps
    return _merged(comps, parent, boxes)


class _CellContext:
    """Union box and ink of all marks whose centroid lies in each cell: a light pencil digit can be in
    several pieces, and an overshoot must be judged against the whole digit, not one of its pieces."""

    def __init__(self, boxes: np.ndarray, centroids: np.ndarray, cell: int, margin: int):
        col = np.floor((centroids[:, 0] - margin) / cell).astype(np.int64)
        row = np.floor((centroids[:, 1] - margin) / cell).astype(np.int64)
        inside = (col >= 0) & (col < COLUMNS) & (row >= 0) & (row < ROWS) & (boxes[:, 4] > params.NOISE_MAX_AREA)
        inside[0] = False  # label 0 is the background
        self.cell_of = np.where(inside, row * COLUMNS + col, -1)
        big = np.iinfo(np.int64).max
        self.boxes = np.tile(np.array([big, big, -big, -big, 0], dtype=np.int64), (COLUMNS * ROWS, 1))
        idx, b = self.cell_of[inside], boxes[inside]
        np.minimum.at(self.boxes[:, 0], idx, b[:, 0])
        np.minimum.at(self.boxes[:, 1], idx, b[:, 1])
        np.maximum.at(self.boxes[:, 2], idx, b[:, 2])
        np.maximum.at(self.boxes[:, 3], idx, b[:, 3])
        np.add.at(self.boxes[:, 4], idx, b[:, 4])

    def of(self, roots: list[int]) -> np.ndarray:
        cells = self.cell_of[roots]
        return self.boxes[cells[cells >= 0]]


def _crossing_runs(labels: np.ndarray, band_list: list[tuple[int, int] | None]) -> list[tuple[int, int, int, int]]:
    """(a, b, start, end) for every run of columns where marks touch a band [a, b) from both sides.

    A column counts if it has ink on one side and ink on the other within `reach` columns (a slanted
    stroke); gaps up to 2*reach are then closed (the two halves of a slanted stroke). All bands of one
    direction are done at once, as one small image per side.
    """
    bands = [bd for bd in band_list if bd and bd[0] >= 1 and bd[1] < labels.shape[0]]
    if not bands:
        return []
    a = np.array([bd[0] for bd in bands])
    b = np.array([bd[1] for bd in bands])
    before = (labels[a - 1] > 0).view(np.uint8)
    after = (labels[b] > 0).view(np.uint8)
    reach = max(1, int(np.ceil(params.LINE_CROSS_REACH * float(np.median(b - a)))))
    kernel = np.ones((1, 2 * reach + 1), np.uint8)
    before_near: np.ndarray = cv2.dilate(before, kernel)
    after_near: np.ndarray = cv2.dilate(after, kernel)
    cross: np.ndarray = (before & after_near) | (after & before_near)
    closed = cv2.morphologyEx(cross, cv2.MORPH_CLOSE, kernel)
    cross = before_near & after_near & closed  # the closing must not grow runs outwards
    edges = np.diff(np.pad(cross.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    starts, ends = np.nonzero(edges == 1), np.nonzero(edges == -1)
    return [(int(a[r]), int(b[r]), int(s0), int(e0)) for r, s0, e0 in zip(starts[0], starts[1], ends[1], strict=True)]


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = int(parent[i])
    return i


def _join_run(
    labels: np.ndarray,
    clean: np.ndarray,
    ink: np.ndarray,
    a: int,
    b: int,
    s: int,
    e: int,
    boxes: np.ndarray,
    parent: np.ndarray,
    axis: int,
    max_depth: float,
    cell: int,
    context: _CellContext,
) -> bool:
    """Merge the marks on both sides of band rows [a, b) at columns [s, e) if one side is an overshoot.

    Views are transposed for vertical lines; `axis` is the original image axis across the band (1 = y).
    """
    reach = max(1, int(np.ceil(params.LINE_CROSS_REACH * (b - a))))
    lo, hi = max(s - reach, 0), min(e + reach, labels.shape[1])
    side_a = {_find(parent, i) for i in set(labels[a - 1, lo:hi].tolist()) if i}  # a few px: plain Python
    side_b = {_find(parent, i) for i in set(labels[b, lo:hi].tolist()) if i}
    if not side_a or not side_b or side_a & side_b:
        return False  # nothing on one side, or already one mark
    ra, rb = list(side_a), list(side_b)
    across0, across1 = axis, axis + 2  # box columns of the start/end across the band ...
    along0, along1 = 1 - axis, 3 - axis  # ... and along it

    def reach_of(bx: np.ndarray, before: bool) -> int:  # how far marks reach away from the line
        return a - int(bx[:, across0].min()) if before else int(bx[:, across1].max()) - b

    depth_a, depth_b = reach_of(boxes[ra], True), reach_of(boxes[rb], False)
    d_small = min(depth_a, depth_b)
    if d_small > params.FRAGMENT_MAX_DEPTH_ROWS * cell:
        return False  # the common case, two digits touching the line: settled without the finer tests
    small_roots, large_roots, small_before = (ra, rb, True) if depth_a <= depth_b else (rb, ra, False)
    small_box = boxes[small_roots]
    length_small = int(small_box[:, along1].max() - small_box[:, along0].min())  # extent along the line
    area_small = int(small_box[:, 4].sum())
    # The deep side counts with everything in its cell (all pieces of that digit).
    large_box = np.concatenate([boxes[large_roots], context.of(large_roots)])
    d_large = reach_of(large_box, not small_before)
    area_large = max(int(boxes[large_roots, 4].sum()), int(context.of(large_roots)[:, 4].sum()))
    # The shallow side is an overshoot when it reaches only a little past the line, or when it is
    # smaller than any digit in both directions (the end of a bold stroke).
    shallow = d_small <= max_depth or (
        d_small <= params.FRAGMENT_MAX_DEPTH_ROWS * cell and length_small < params.FRAGMENT_MAX_LENGTH * cell
    )
    if (
        not shallow
        or d_small > params.FRAGMENT_MAX_DEPTH_RATIO * d_large
        or area_small > params.FRAGMENT_MAX_AREA * area_large
    ):
        return False
    members = ra + rb
    root = members[0]
    box = boxes[members]
    boxes[root] = [box[:, 0].min(), box[:, 1].min(), box[:, 2].max(), box[:, 3].max(), box[:, 4].sum()]
    for m in members[1:]:
        parent[m] = root
    block = ink[a:b, s:e] > 0  # the line pixels under the stroke join the two halves again
    clean[a:b, s:e][block] = 1
    labels[a:b, s:e][block] = root
    return True


def _merged(comps: Components, parent: np.ndarray, boxes: np.ndarray) -> Components:
    """Components with merged groups folded into their root: union bbox, summed area, weighted centroid."""
    n = len(parent)
    roots = np.array([_find(parent, i) for i in range(n)])
    stats = comps.stats.copy()
    cents = comps.centroids.copy()
    for root in np.unique(roots[roots != np.arange(n)]):
        members = np.flatnonzero(roots == root)
        area = comps.stats[members, 4].astype(np.float64)
        cents[root] = (comps.centroids[members] * area[:, None]).sum(axis=0) / area.sum()
        x0, y0, x1, y1, total = boxes[root]
        stats[root] = [x0, y0, x1 - x0, y1 - y0, total]
        stats[members[members != root], 4] = 0  # folded into the root: ignored by assign_marks
    return Components(labels=comps.labels, stats=stats, centroids=cents, groups=roots)


def assign_marks(comps: Components, cell: int, margin: int) -> list[CellMarks]:
    """Group marks by the cell holding their centroid; 1-2 px noise and marks outside the grid are ignored."""
    stats, cents = comps.stats, comps.centroids
    ids = np.arange(1, len(stats))
    col = np.floor((cents[1:, 0] - margin) / cell).astype(np.int64)
    row = np.floor((cents[1:, 1] - margin) / cell).astype(np.int64)
    inside = (col >= 0) & (col < COLUMNS) & (row >= 0) & (row < ROWS)
    keep = (stats[1:, cv2.CC_STAT_AREA] > params.NOISE_MAX_AREA) & inside
    ids, index = ids[keep], (row * COLUMNS + col)[keep]
    order = np.argsort(index, kind="stable")
    ids, index = ids[order], index[order]
    cells, starts, counts = np.unique(index, return_index=True, return_counts=True)
    pieces = _pieces(comps.groups)
    x0, y0 = stats[:, 0], stats[:, 1]
    x1, y1 = x0 + stats[:, 2], y0 + stats[:, 3]
    extent = np.maximum(stats[:, 2], stats[:, 3])
    out = []
    for c, st, cnt in zip(cells.tolist(), starts.tolist(), counts.tolist(), strict=True):
        group = ids[st : st + cnt]
        first = int(group[0])
        if cnt == 1 and first not in pieces:  # the common case: one mark, drawn by one label
            area = int(stats[first, 4])
            out.append(
                CellMarks(
                    index=c,
                    ids=group,
                    bbox=(int(x0[first]), int(y0[first]), int(x1[first]), int(y1[first])),
                    area=area,
                    main_area=area,
                    main_extent=int(extent[first]),
                )
            )
        else:
            out.append(_cell_marks(c, group, comps, cell, pieces))
    return out


def _pieces(groups: np.ndarray | None) -> dict[int, np.ndarray]:
    """root label -> all labels of a mark joined across a line (only for joined marks)."""
    if groups is None:
        return {}
    joined = np.flatnonzero(groups != np.arange(len(groups)))
    if joined.size == 0:
        return {}
    roots = np.unique(groups[joined])
    return {int(r): np.concatenate([[r], joined[groups[joined] == r]]) for r in roots}


def _cell_marks(index: int, ids: np.ndarray, comps: Components, cell: int, pieces: dict[int, np.ndarray]) -> CellMarks:
    """Marks of a cell with several labels: strays (tiny and far from the sample) set aside, pieces joined."""
    s = comps.stats[ids]
    areas = s[:, cv2.CC_STAT_AREA]
    extents = np.maximum(s[:, 2], s[:, 3])
    strays: list[int] = []
    if len(ids) > 1:
        main = int(areas.argmax())
        mx0, my0 = s[main, 0], s[main, 1]
        mx1, my1 = mx0 + s[main, 2], my0 + s[main, 3]
        gap_x = np.maximum(np.maximum(mx0 - (s[:, 0] + s[:, 2]), s[:, 0] - mx1), 0)
        gap_y = np.maximum(np.maximum(my0 - (s[:, 1] + s[:, 3]), s[:, 1] - my1), 0)
        stray = (
            (areas < params.STRAY_MAX_AREA * areas[main])
            & (extents < params.SPECK_MAX_EXTENT * cell)
            & (np.maximum(gap_x, gap_y) > params.STRAY_MIN_GAP * cell)
        )
        if stray.any():
            strays = [int(i) for i in ids[stray]]
            ids, s, areas, extents = ids[~stray], s[~stray], areas[~stray], extents[~stray]
    x0, y0 = int(s[:, 0].min()), int(s[:, 1].min())
    x1, y1 = int((s[:, 0] + s[:, 2]).max()), int((s[:, 1] + s[:, 3]).max())
    if pieces:  # a joined mark is drawn by all of its pieces' labels
        ids = np.concatenate([pieces.get(int(i), [i]) for i in ids]).astype(np.int64)
    return CellMarks(
        index=index,
        ids=ids,
        bbox=(x0, y0, x1, y1),
        area=int(areas.sum()),
        main_area=int(areas.max()),
        main_extent=int(extents.max()),
        strays=strays,
    )


class CellStatus(StrEnum):
    """The extraction's decision about one cell."""

    KEPT = "kept"  # a written sample: in the dataset unless the student excludes it
    BLANK = "blank"  # nothing written (no image)
    REJECTED = "rejected"  # a speck, a scribble or too faint: kept aside, the student may include it


def classify(
    marks: CellMarks, strong_ink: float, page_strong_ink: float, cell: int, core_extent: int | None = None
) -> tuple[CellStatus, str | None]:
    """(status, reason) for a cell with marks; strong_ink = the sample's 90th-percentile darkness; core_extent =
    digit.core_extent of a small mark (None when the mark is too big to need it)."""
    if marks.main_extent < params.SPECK_MAX_EXTENT * cell:
        return CellStatus.REJECTED, params.REASON_SPECK
    if core_extent is not None and core_extent < params.SPECK_MAX_EXTENT * cell:
        return CellStatus.REJECTED, params.REASON_SPECK
    box_area = (marks.bbox[2] - marks.bbox[0]) * (marks.bbox[3] - marks.bbox[1])
    solid_blob = (
        marks.area > params.SCRIBBLE_SOLID_MIN_FILL * cell * cell and marks.area > params.SCRIBBLE_SOLIDITY * box_area
    )
    if (
        marks.area > params.SCRIBBLE_MAX_FILL * cell * cell
        or marks.extent > params.SCRIBBLE_MAX_SPAN * cell
        or solid_blob
    ):
        return CellStatus.REJECTED, params.REASON_SCRIBBLE
    if strong_ink < max(params.FAINT_MIN_DARK, params.FAINT_REL * page_strong_ink):
        return CellStatus.REJECTED, params.REASON_FAINT
    return CellStatus.KEPT, None
