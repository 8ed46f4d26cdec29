"""Golden tests: extract_page on synthetic scans and phone photos whose every cell is known (synth.py).

Targets (aggregated over the pages of a kind): written digits kept with the right label >= 99 % on
scanner pages and >= 97 % on phone photos; blank cells and specks kept <= 0.5 %. Per-page figures are
printed in the terminal summary (see conftest.py).
"""

import functools
import time
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
import synth

from digitlab.pipeline import (CONTRACT_VERSION, CellResult, GridNotFound, PageExtraction, extract_page,
                               normalize_sample, sprite_sheet)
from digitlab.pipeline import params
from digitlab.pipeline.digit import StretchTables, cell_ink
from digitlab.pipeline.extract import ExtractionDebug, extract_page_debug
from digitlab.pipeline.template import COLUMNS, DIGIT_LABELS, ROWS, label_for_row

C, M = params.CELL_PX, params.MARGIN_PX


@dataclass(frozen=True)
class Scenario:
    kind: str  # "scanner" | "phone"
    make: object  # () -> synth.SynthPage
    slow: bool = False


SCENARIOS = {
    "scan-300dpi-black-lw3-rot+3-jpeg85": Scenario("scanner", lambda: synth.scan(
        synth.render_sheet(300, 3, "black", seed=101), seed=101, rotate=3, noise=2, jpeg=85)),
    "scan-150dpi-blue-lw1-rot-7-jpeg80": Scenario("scanner", lambda: synth.scan(
        synth.render_sheet(150, 1, "blue", seed=102), seed=102, rotate=-7, blur=0.5, noise=3, jpeg=80)),
    "scan-300dpi-pencil-lw2-rot-10-keystone-light": Scenario("scanner", lambda: synth.scan(
        synth.render_sheet(300, 2, "pencil", seed=104, text=False), seed=104, rotate=-10, perspective=0.012,
        lighting=0.4, blur=0.8, noise=3, jpeg=75)),
    "scan-200dpi-blue-lw4-legacy-jpeg60": Scenario("scanner", lambda: synth.scan(
        synth.render_sheet(200, 4, "blue", seed=105, text=False), seed=105, rotate=1.5, lighting=0.3, noise=4,
        jpeg=60)),
    "scan-300dpi-black-lw5-rot+10-blur": Scenario("scanner", lambda: synth.scan(
        synth.render_sheet(300, 5, "black", seed=106), seed=106, rotate=10, perspective=0.008, blur=1.0,
        noise=3, jpeg=80)),
    "scan-600dpi-black-lw4-rot-4": Scenario("scanner", lambda: synth.scan(
        synth.render_sheet(600, 4, "black", seed=103), seed=103, rotate=-4, noise=3, jpeg=85), slow=True),
    "scan-600dpi-pencil-lw6-rot+6": Scenario("scanner", lambda: synth.scan(
        synth.render_sheet(600, 6, "pencil", seed=107), seed=107, rotate=6, lighting=0.3, noise=3, jpeg=85),
        slow=True),
    "phone-150dpi-black-lw2": Scenario("phone", lambda: synth.phone_photo(
        synth.render_sheet(150, 2, "black", seed=201), seed=201)),
    "phone-200dpi-blue-lw3-small-frame": Scenario("phone", lambda: synth.phone_photo(
        synth.render_sheet(200, 3, "blue", seed=202), seed=202, frame=(1200, 1600), tilt=0.15, jpeg=75)),
    "phone-150dpi-pencil-lw1-steep-shadow": Scenario("phone", lambda: synth.phone_photo(
        synth.render_sheet(150, 1, "pencil", seed=203), seed=203, tilt=0.25, shadow=0.55, jpeg=65)),
    "phone-150dpi-black-lw2-landscape-frame": Scenario("phone", lambda: synth.phone_photo(
        synth.render_sheet(150, 2, "black", seed=204), seed=204, frame=(1500, 2000), fill=0.75, rotate=-9,
        shadow=0.45, jpeg=70)),
}
FAST = [n for n, s in SCENARIOS.items() if not s.slow]
SLOW = [n for n, s in SCENARIOS.items() if s.slow]


def scenario_params(names: list[str]) -> list:
    return [pytest.param(n, marks=pytest.mark.slow) if SCENARIOS[n].slow else n for n in names]


@dataclass
class Run:
    page: synth.SynthPage
    result: PageExtraction
    debug: ExtractionDebug
    ms: float


@functools.cache
def run(name: str) -> Run:
    page = SCENARIOS[name].make()
    start = time.perf_counter()
    result, debug = extract_page_debug(page.gray, DIGIT_LABELS)
    return Run(page, result, debug, (time.perf_counter() - start) * 1000)


def figures(name: str, log: dict) -> dict:
    """Per-page counts; recorded in the session log for the terminal summary."""
    r = run(name)
    truth, cells = r.page.truth, r.result.cells
    digit = [i for i, t in enumerate(truth) if t == synth.DIGIT]
    other = [i for i, t in enumerate(truth) if t != synth.DIGIT]
    specks = [i for i, t in enumerate(truth) if t == synth.SPECK]
    f = {
        "kind": SCENARIOS[name].kind,
        "digits": len(digit),
        "digits_kept": sum(cells[i].status == "kept" for i in digit),
        "other": len(other),
        "other_kept": sum(cells[i].status == "kept" for i in other),
        "specks": len(specks),
        "specks_rejected": sum(cells[i].status == "rejected" for i in specks),
        "corner_error": float(np.abs(np.array(r.result.corners) - r.page.corners).max()),
        "ms": r.ms,
        "missed": [i for i in digit if cells[i].status != "kept"],
        "false_kept": [i for i in other if cells[i].status == "kept"],
    }
    log[name] = f
    return f


# ------------------------------------------------------------------ per page

@pytest.mark.parametrize("name", scenario_params(list(SCENARIOS)))
def test_page_cells(name: str, extraction_log: dict) -> None:
    r = run(name)
    f = figures(name, extraction_log)
    cells = r.result.cells
    # Every written cell kept in its own place with its row's label; nothing else kept.
    assert len(cells) == ROWS * COLUMNS
    for i, cell in enumerate(cells):
        assert (cell.row, cell.col) == divmod(i, COLUMNS)
        assert cell.label == label_for_row(DIGIT_LABELS, cell.row)
        if cell.status == "kept" and r.page.truth[i] == synth.DIGIT:
            assert cell.label == str(r.page.digits[i])
    page_floor = 0.98 if SCENARIOS[name].kind == "scanner" else 0.96
    assert f["digits_kept"] >= page_floor * f["digits"], f"missed cells {f['missed']}"
    assert f["other_kept"] <= 0.01 * f["other"] + 1, f"kept blank/speck cells {f['false_kept']}"


@pytest.mark.parametrize("name", scenario_params(list(SCENARIOS)))
def test_corners_match_the_printed_grid(name: str) -> None:
    r = run(name)
    error = np.abs(np.array(r.result.corners) - r.page.corners)
    assert error.max() <= 3.0, f"corner error {error.max():.2f} px"


def truth_boxes(r: Run) -> dict[int, np.ndarray]:
    """Each written digit's true ink box (x0, y0, x1, y1) in rectified pixels (CELL_PX per cell), mapped
    through the extraction's own corners: a sample can then be compared with what was really written."""
    canonical = np.array([[M, M], [M + COLUMNS * C, M], [M + COLUMNS * C, M + ROWS * C], [M, M + ROWS * C]],
                         np.float32)
    h = cv2.getPerspectiveTransform(np.array(r.result.corners, np.float32), canonical)
    out = {}
    for index, quad in r.page.boxes.items():
        q = cv2.perspectiveTransform(quad.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)
        out[index] = np.array([q[:, 0].min(), q[:, 1].min(), q[:, 0].max() + 1, q[:, 1].max() + 1])
    return out


@pytest.mark.parametrize("name", scenario_params(list(SCENARIOS)))
def test_crossing_digit_stays_in_its_cell(name: str) -> None:
    """A digit reaching over a line into a blank neighbour is kept whole in its own cell."""
    r = run(name)
    truth = truth_boxes(r)
    assert r.page.crossings
    for own, neighbour in r.page.crossings:
        assert r.result.cells[own].status == "kept", f"cell {own} crossing into {neighbour}"
        assert r.result.cells[neighbour].status == "blank", f"neighbour {neighbour} of crossing cell {own}"
        # The part beyond the line belongs to this cell's sample: its box reaches as far as the digit does
        # (an overshoot thinner than the removed line band is lost with the line).
        box = np.array(r.debug.marks[own].bbox, dtype=float)
        (row, col), (nrow, ncol) = divmod(own, COLUMNS), divmod(neighbour, COLUMNS)
        axis, sign = (0, ncol - col) if ncol != col else (1, nrow - row)
        line = M + (max(col, ncol) if axis == 0 else max(row, nrow)) * C
        if sign > 0:
            far, got = truth[own][2 + axis], box[2 + axis]
            assert got >= min(far, line) - 3 and (far < line + 8 or got >= far - 5), (own, far, got)
        else:
            far, got = truth[own][axis], box[axis]
            assert got <= max(far, line) + 3 and (far > line - 8 or got <= far + 5), (own, far, got)


@pytest.mark.parametrize("name", scenario_params(FAST))
def test_samples_contain_no_grid_line(name: str) -> None:
    """A kept sample's ink stays within the written digit's true box: no piece of grid line is attached to
    it (touching and crossing digits included)."""
    r = run(name)
    truth = truth_boxes(r)
    tolerance = 4  # px at CELL_PX: anti-aliasing, blur and the corner fit
    for index, marks in r.debug.marks.items():
        if r.result.cells[index].status != "kept" or index not in truth:
            continue
        x0, y0, x1, y1 = marks.bbox
        tx0, ty0, tx1, ty1 = truth[index]
        assert (x0 >= tx0 - tolerance and y0 >= ty0 - tolerance and x1 <= tx1 + tolerance
                and y1 <= ty1 + tolerance), f"cell {index}: sample box {marks.bbox}, digit {truth[index].round(1)}"
    touching = [i for i in r.page.touching if r.result.cells[i].status == "kept"]
    assert len(touching) == len(r.page.touching)


def test_kept_samples_follow_the_contract() -> None:
    """Each stored sample is exactly the shared contract applied to the cell's ink (round half up)."""
    r = run(FAST[0])
    tables = StretchTables(r.debug.threshold)
    members = np.zeros(r.debug.labels.max() + 1, dtype=bool)
    checked = 0
    for index, marks in r.debug.marks.items():
        cell = r.result.cells[index]
        ink, _ = cell_ink(r.debug.dark, r.debug.labels, marks, tables, members)
        expected = np.floor(normalize_sample(ink).astype(np.float64) * 255 + 0.5).astype(np.uint8)
        assert np.array_equal(cell.image, expected), f"cell {index}"
        checked += 1
    assert checked > 400


def test_pencil_samples_are_stretched_like_pen() -> None:
    r = run("scan-300dpi-pencil-lw2-rot-10-keystone-light")
    kept = [c.image for c in r.result.cells if c.status == "kept"]
    peaks = np.array([img.max() for img in kept])
    assert np.median(peaks) >= 230  # light grey strokes become full ink in the sample


def test_result_structure_and_preview() -> None:
    r = run(FAST[0])
    result = r.result
    assert isinstance(result, PageExtraction) and len(result.corners) == 4
    assert all(isinstance(v, float) for corner in result.corners for v in corner)
    assert result.kept_count + result.blank_count + result.rejected_count == ROWS * COLUMNS
    for cell in result.cells:
        assert isinstance(cell, CellResult)
        if cell.status == "blank":
            assert cell.reason == params.REASON_EMPTY and cell.image is None
        else:
            assert cell.image.shape == (28, 28) and cell.image.dtype == np.uint8 and cell.image.max() > 0
            if cell.status == "kept":
                assert cell.reason is None
            else:
                assert cell.status == "rejected" and cell.reason in params.REJECT_REASONS
    preview = result.preview
    assert preview.dtype == np.uint8 and preview.ndim == 3 and preview.shape[2] == 3
    assert max(preview.shape[:2]) <= params.PREVIEW_LONG_SIDE
    # kept cells are tinted green: the preview has clearly green pixels
    b, g, rr = (preview[..., k].astype(int) for k in range(3))
    assert ((g - rr > 20) & (g - b > 20)).sum() > 1000


def test_specks_are_rejected_not_kept(extraction_log: dict) -> None:
    totals = np.zeros(3, dtype=int)  # specks, rejected as speck, kept
    for name in FAST:
        r = run(name)
        for i, t in enumerate(r.page.truth):
            if t == synth.SPECK:
                cell = r.result.cells[i]
                totals += [1, cell.status == "rejected" and cell.reason == params.REASON_SPECK, cell.status == "kept"]
    assert totals[2] == 0
    assert totals[1] >= 0.8 * totals[0]  # the rest were too small to count as marks at all (blank)


def test_faint_and_filled_cells_are_rejected_with_reasons() -> None:
    """An erased (very light) digit on a pen page is "too_faint"; a blacked-out cell is a "scribble"."""
    page = synth.render_sheet(300, 3, "black", seed=61, speck_frac=0.0)
    gray = page.gray.copy()
    rng = np.random.default_rng(0)
    blank = [i for i, t in enumerate(page.truth) if t == synth.BLANK]
    faint, filled = blank[:10], blank[10:15]
    cell = page.cell_px
    for i in faint + filled:
        row, col = divmod(i, COLUMNS)
        cx, cy = page.corners[0, 0] + (col + 0.5) * cell, page.corners[0, 1] + (row + 0.5) * cell
        if i in faint:
            coverage, _ = synth._digit_shape(5, 0.6 * cell, 6, rng, hershey=False)
            synth._paste(gray, coverage, cx, cy, 0.2, None, rng)  # ~0.2 darkness: rubbed out
        else:
            half = int(0.35 * cell)
            gray[int(cy) - half:int(cy) + half, int(cx) - half:int(cx) + half] = 30
    result = extract_page(gray, DIGIT_LABELS)
    assert all((result.cells[i].status, result.cells[i].reason) == ("rejected", params.REASON_FAINT) for i in faint)
    assert all((result.cells[i].status, result.cells[i].reason) == ("rejected", params.REASON_SCRIBBLE)
               for i in filled)
    assert all(result.cells[i].image is not None for i in faint + filled)  # shown, so a student can re-include
    digits = [i for i, t in enumerate(page.truth) if t == synth.DIGIT]
    assert sum(result.cells[i].status == "kept" for i in digits) >= 0.99 * len(digits)


def test_custom_labels_follow_rows() -> None:
    labels = ["alpha", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
    page = synth.render_sheet(150, 2, "black", seed=301, text=False)
    result = extract_page(page.gray, labels)
    for cell in result.cells:
        assert cell.label == labels[cell.row // 3]
    assert result.cells[0].label == "alpha" and result.cells[-1].label == "j"
    with pytest.raises(ValueError):
        extract_page(page.gray, labels[:9])


def test_colour_input_is_accepted() -> None:
    page = synth.render_sheet(150, 2, "black", seed=302, text=False)
    bgr = cv2.cvtColor(page.gray, cv2.COLOR_GRAY2BGR)
    from_bgr, from_gray = extract_page(bgr, DIGIT_LABELS), extract_page(page.gray, DIGIT_LABELS)
    assert [c.status for c in from_bgr.cells] == [c.status for c in from_gray.cells]
    assert from_bgr.kept_count >= 0.99 * sum(t == synth.DIGIT for t in page.truth)


# ------------------------------------------------------------------ pages without a grid

def _text_page() -> np.ndarray:
    page = np.full((1754, 1240), 248, np.uint8)
    for i in range(40):
        cv2.putText(page, "The quick brown fox jumps over the lazy dog 0123456789", (60, 80 + i * 40),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.8, 30, 2, cv2.LINE_AA)
    return page


def _table_page() -> np.ndarray:  # a small table: a grid, but not ours
    page = np.full((1754, 1240), 248, np.uint8)
    for k in range(7):
        page[300:1100, 200 + k * 130:202 + k * 130] = 30
    for k in range(9):
        page[300 + k * 100:302 + k * 100, 200:982] = 30
    return page


def _graph_paper() -> np.ndarray:  # many more cells than the sheet
    page = np.full((1754, 1240), 248, np.uint8)
    page[:, ::24] = 90
    page[::24, :] = 90
    return page


@pytest.mark.parametrize("image", [
    pytest.param(lambda: np.full((3508, 2480), 246, np.uint8), id="blank-page"),
    pytest.param(lambda: np.random.default_rng(1).integers(0, 256, (2000, 1500), dtype=np.uint8), id="noise"),
    pytest.param(lambda: cv2.GaussianBlur(np.random.default_rng(2).integers(0, 256, (1600, 1200), dtype=np.uint8),
                                          (0, 0), 4), id="blurred-noise"),
    pytest.param(_text_page, id="text-only"),
    pytest.param(_table_page, id="small-table"),
    pytest.param(_graph_paper, id="graph-paper"),
    pytest.param(lambda: np.zeros((150, 150), np.uint8), id="tiny"),
])
def test_no_grid_raises_with_a_reason(image) -> None:  # noqa: ANN001
    with pytest.raises(GridNotFound) as info:
        extract_page(image(), DIGIT_LABELS)
    assert info.value.reason and str(info.value) == info.value.reason
    assert len(info.value.reason) > 20


def test_sideways_page_is_refused_with_advice() -> None:
    page = synth.render_sheet(150, 2, "black", seed=303)
    with pytest.raises(GridNotFound, match="sideways"):
        extract_page(np.ascontiguousarray(np.rot90(page.gray)), DIGIT_LABELS)


# ------------------------------------------------------------------ sprite sheets and the public API

def test_sprite_sheet_layout() -> None:
    samples = [np.full((28, 28), k * 10, np.uint8) for k in range(25)]
    sheet = sprite_sheet(samples, columns=10)
    assert sheet.dtype == np.uint8 and sheet.shape == (3 * 29 + 1, 10 * 29 + 1)
    assert sheet[1, 1] == 255 - 0 and sheet[1 + 29, 1 + 29] == 255 - 110  # paper white, ink dark
    assert (sheet[0, :] < 255).all() and (sheet[:, 0] < 255).all()  # 1 px separators
    assert sprite_sheet([], columns=20).shape == (30, 30)
    assert sprite_sheet([normalize_sample(np.ones((5, 5)))]).min() == 0  # float samples accepted
    with pytest.raises(ValueError):
        sprite_sheet([np.zeros((20, 20), np.uint8)])


def test_public_api() -> None:
    import digitlab.pipeline as pipeline

    assert CONTRACT_VERSION == "1"
    for name in ("extract_page", "PageExtraction", "CellResult", "GridNotFound", "normalize_sample",
                 "sprite_sheet", "CONTRACT_VERSION"):
        assert name in pipeline.__all__


# ------------------------------------------------------------------ aggregate targets

@pytest.mark.slow
def test_aggregate_targets(extraction_log: dict) -> None:
    totals: dict[str, np.ndarray] = {}
    for name in SCENARIOS:
        f = figures(name, extraction_log)
        totals.setdefault(f["kind"], np.zeros(4, dtype=int))
        totals[f["kind"]] += [f["digits_kept"], f["digits"], f["other_kept"], f["other"]]
    scan, phone = totals["scanner"], totals["phone"]
    assert scan[0] >= 0.99 * scan[1], f"scanner pages: {scan[0]}/{scan[1]} digits kept"
    assert phone[0] >= 0.97 * phone[1], f"phone photos: {phone[0]}/{phone[1]} digits kept"
    other_kept, other = scan[2] + phone[2], scan[3] + phone[3]
    assert other_kept <= 0.005 * other, f"{other_kept}/{other} blank cells and specks kept"
