"""The version 2 sheet: printed from the service's own PDF, written in, "scanned" every way up, and read back.

Pages come from synth_v2 (the real PDF rendered with pypdfium2, handwriting from synth.write_cells). Every
orientation a scanner or a phone produces (turned by 0, 90, 180, 270 degrees, each also mirrored) must give every
written digit its row's label; the QR code must read when it is intact and be absent (not wrong) when covered;
a code the server did not sign, or one with its project or page changed, must be refused.
"""

import re

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
import synth
import synth_v2

from digitlab.pipeline import extract_page
from digitlab.pipeline.decode import PDFIUM_LOCK
from digitlab.pipeline.markers import find_sheet_pose, marker_dictionary
from digitlab.pipeline.sheet import read_sheet
from digitlab.pipeline.sheet_code import SheetCode, SheetCodeRefused, make_sheet_code, verify_sheet_code
from digitlab.pipeline.template import COLUMNS, DIGIT_LABELS, ROWS, SHEET_V2, label_for_row
from digitlab.projects.sheet_pdf import render_sheet_pdf_v2

KEY = b"the server's secret key for tests"
OTHER_KEY = b"someone else's key"
CODE = make_sheet_code(KEY, 42, 3)
G = SHEET_V2


def px(mm: float, dpi: int) -> float:
    return mm / 25.4 * dpi


def assert_labels_right(page: synth.SynthPage, result, min_kept: float = 0.99) -> None:
    """Every cell keeps its own row's label; the written digits are kept; nothing blank is kept."""
    assert len(result.cells) == ROWS * COLUMNS
    digits = [i for i, t in enumerate(page.truth) if t == synth.DIGIT]
    for i, cell in enumerate(result.cells):
        assert (cell.row, cell.col) == divmod(i, COLUMNS)
        assert cell.label == label_for_row(DIGIT_LABELS, cell.row)
        if page.truth[i] == synth.DIGIT and cell.status == "kept":
            assert cell.label == str(page.digits[i]), f"cell {i}"
    kept = sum(result.cells[i].status == "kept" for i in digits)
    assert kept >= min_kept * len(digits), f"{kept}/{len(digits)} written digits kept"
    others = [i for i, t in enumerate(page.truth) if t != synth.DIGIT]
    assert sum(result.cells[i].status == "kept" for i in others) == 0


# ------------------------------------------------------------------ the printed sheet

def test_the_printed_sheet_has_markers_code_and_grid_where_the_layout_says():
    gray = synth_v2.blank_page(CODE, 300)
    pose = find_sheet_pose(gray)
    assert pose is not None and pose.markers_found == 4
    assert (pose.quarter_turns, pose.mirrored) == (0, False)
    for (x, y), (x_mm, y_mm) in zip(pose.grid_corners, G.grid_corners_mm, strict=True):
        assert abs(x - px(x_mm, 300)) < px(0.5, 300) and abs(y - px(y_mm, 300)) < px(0.5, 300)
    assert read_sheet(gray).code == CODE
    # Nothing inside the cells: the empty sheet extracts as 600 blank cells.
    result = extract_page(gray, DIGIT_LABELS)
    assert {cell.status for cell in result.cells} == {"blank"}


def test_lines_between_groups_of_three_rows_are_thicker():
    dpi = 600
    gray = synth_v2.blank_page(CODE, dpi)
    x = round(px(G.grid_left_mm + 2.5 * G.cell_mm, dpi))  # down the middle of a column

    def width(row: int) -> int:
        y = px(G.grid_top_mm + row * G.cell_mm, dpi)
        return int((gray[round(y - 10) : round(y + 10), x] < 128).sum())

    thin, thick = [width(r) for r in (1, 2, 4, 29)], [width(r) for r in (3, 6, 27)]
    assert max(thin) < min(thick)
    assert min(thick) >= 2 * max(thin)


def page_text(pdf: bytes) -> str:
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            texts = []
            for index in range(len(doc)):
                page = doc[index]
                textpage = page.get_textpage()
                texts.append(textpage.get_text_bounded())
                textpage.close()
                page.close()
        finally:
            doc.close()
    return "\n".join(texts)


@pytest.mark.parametrize(("lang", "words"), [("en", ["Nickname", "never your real name", "Page 3"]),
                                             ("de", ["Spitzname", "nie dein echter Name", "Seite 3"])])
def test_nickname_field_and_one_line_of_instructions_in_the_language(lang, words):
    text = page_text(render_sheet_pdf_v2(DIGIT_LABELS, [(3, CODE)], title="Klasse 7b", lang=lang))
    for word in words:
        assert word in text
    assert "Klasse 7b" in text


def test_each_rows_label_is_printed_in_front_of_it():
    labels = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]
    text = page_text(render_sheet_pdf_v2(labels, [(1, CODE)]))
    for label in labels:
        assert text.count(label) >= 3, label  # once per row of its group
    gray = synth_v2.blank_page(CODE, 300, labels=tuple(labels))
    left = gray[:, round(px(6, 300)) : round(px(G.label_right_mm + 0.3, 300))]
    for row in range(ROWS):
        top = px(G.grid_top_mm + row * G.cell_mm, 300)
        band = left[round(top + px(1, 300)) : round(top + px(G.cell_mm - 1, 300))]
        assert (band < 128).sum() > 20, f"no label in front of row {row}"
    # ... and nothing between the labels and the grid
    gap = gray[:, round(px(G.label_right_mm + 0.3, 300)) : round(px(G.grid_left_mm - G.group_line_width_mm / 2 - 0.1, 300))]
    assert gap[round(px(G.grid_top_mm, 300)) : round(px(G.grid_top_mm + G.grid_height_mm, 300))].min() > 200


def test_one_pdf_page_per_sheet_with_its_own_code():
    codes = [(page, make_sheet_code(KEY, 7, page)) for page in (4, 5, 6)]
    pdf = render_sheet_pdf_v2(DIGIT_LABELS, codes)
    from digitlab.pipeline.decode import decode_file

    pages = decode_file(pdf, pdf_dpi=150).pages
    assert len(pages) == 3
    assert [read_sheet(p.gray).code for p in pages] == [code for _, code in codes]
    assert render_sheet_pdf_v2(DIGIT_LABELS, codes) == pdf  # deterministic


def test_the_code_is_short_signed_and_names_no_one():
    assert re.fullmatch(r"DL2:42:3:[A-Z2-7]{16}", CODE)
    assert len(make_sheet_code(KEY, 2**31 - 1, 9999)) <= 40
    assert verify_sheet_code(KEY, CODE) == SheetCode(project_id=42, page=3)


def test_markers_mirrored_are_not_markers():
    """A mirrored page's markers must not read as any marker of the sheet (so mirrored pages are recognised)."""
    detector = cv2.aruco.ArucoDetector(marker_dictionary(), cv2.aruco.DetectorParameters())
    for marker_id in G.marker_ids:
        image = cv2.copyMakeBorder(cv2.aruco.generateImageMarker(marker_dictionary(), marker_id, 120), 40, 40, 40, 40,
                                   cv2.BORDER_CONSTANT, value=255)
        _, ids, _ = detector.detectMarkers(image)
        assert ids is not None and ids.ravel().tolist() == [marker_id]
        _, ids, _ = detector.detectMarkers(cv2.flip(image, 1))
        assert ids is None or not set(ids.ravel().tolist()) & set(G.marker_ids)


# ------------------------------------------------------------------ scanned any way up

@pytest.fixture(scope="module")
def written_page() -> synth.SynthPage:
    return synth_v2.printed_page(CODE, dpi=200, seed=11)


ORIENTATIONS = [(turns, mirrored) for mirrored in (False, True) for turns in range(4)]


@pytest.mark.parametrize(("turns", "mirrored"), ORIENTATIONS,
                         ids=[f"turn{t * 90}{'-mirrored' if m else ''}" for t, m in ORIENTATIONS])
def test_scanned_in_every_orientation_reads_right(written_page, turns, mirrored):
    scanned = synth.scan(written_page, seed=turns + 4 * mirrored, rotate=1.5, noise=2, jpeg=85)
    page = synth_v2.oriented(scanned, turns, mirrored)
    reading = read_sheet(page.gray)
    assert reading.pose is not None
    assert (reading.pose.quarter_turns, reading.pose.mirrored) == (turns, mirrored)
    assert reading.code == CODE
    result = extract_page(page.gray, DIGIT_LABELS, reading=reading)
    assert_labels_right(page, result)
    error = np.abs(np.array(result.corners) - page.corners).max()
    assert error <= 3.0, f"corner error {error:.2f} px"
    assert_upright(result.preview, scanned.gray)


def assert_upright(preview: np.ndarray, upright: np.ndarray) -> None:
    """The preview shows the page upright: of the page's eight turns and mirrors, the upright one looks most like
    it (correlation of the small grey images)."""
    gray = cv2.cvtColor(preview, cv2.COLOR_BGR2GRAY).astype(np.float32)
    h, w = gray.shape
    assert h > w

    def likeness(turns: int, mirrored: bool) -> float:
        candidate = synth_v2.turned(upright, turns, mirrored)
        if (candidate.shape[0] > candidate.shape[1]) != (h > w):
            return -1.0
        small = cv2.resize(candidate, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
        return float(np.corrcoef(small.ravel(), gray.ravel())[0, 1])

    scores = {(t, m): likeness(t, m) for t in range(4) for m in (False, True)}
    assert max(scores, key=scores.get) == (0, False), scores


@pytest.mark.parametrize("turns", [0, 1])
def test_phone_photo_of_the_sheet_reads_right(turns):
    page = synth.phone_photo(synth_v2.printed_page(CODE, dpi=150, seed=21 + turns), seed=21 + turns)
    page = synth_v2.oriented(page, turns)
    reading = read_sheet(page.gray)
    assert reading.pose is not None and reading.pose.quarter_turns == turns
    assert reading.code == CODE
    assert_labels_right(page, extract_page(page.gray, DIGIT_LABELS, reading=reading), min_kept=0.98)


def test_extract_page_finds_the_markers_by_itself(written_page):
    page = synth_v2.oriented(written_page, 2)
    assert_labels_right(page, extract_page(page.gray, DIGIT_LABELS))


# ------------------------------------------------------------------ the code: readable or not, signed or not

def test_a_covered_code_is_not_read_but_the_page_still_extracts(written_page):
    page = synth_v2.oriented(synth_v2.cover_code(written_page), 1, mirrored=True)
    reading = read_sheet(page.gray, search_whole_page=True)
    assert reading.pose is not None and reading.code is None
    assert_labels_right(page, extract_page(page.gray, DIGIT_LABELS, reading=reading))


def test_without_markers_the_code_is_found_on_the_whole_page_only_when_asked():
    gray = synth_v2.blank_page(CODE, 200)
    for corner in range(4):  # white-out every marker: a copier that cut the corners off
        x, y = G.marker_origin_mm(corner)
        gray[round(px(y - 1, 200)) : round(px(y + G.marker_mm + 1, 200)),
             round(px(x - 1, 200)) : round(px(x + G.marker_mm + 1, 200))] = 255
    assert read_sheet(gray).pose is None
    assert read_sheet(gray).code is None
    assert read_sheet(gray, search_whole_page=True).code == CODE
    assert read_sheet(cv2.flip(gray, 1), search_whole_page=True).code == CODE


def test_legacy_sheet_has_no_markers_and_no_code():
    page = synth.render_sheet(200, 3, "black", seed=5)
    reading = read_sheet(page.gray, search_whole_page=True)
    assert reading.pose is None and reading.code is None and reading.version == 1


@pytest.mark.parametrize(("text", "refusal"), [
    (make_sheet_code(OTHER_KEY, 42, 3), "forged_code"),  # made up with another key
    (CODE.replace("DL2:42:", "DL2:43:"), "forged_code"),  # another project, same signature
    (CODE.replace(":3:", ":4:"), "forged_code"),  # another page
    (CODE[:-1] + ("A" if CODE[-1] != "A" else "B"), "forged_code"),  # signature altered
    (CODE[:-2], "not_a_sheet_code"),  # signature cut short
    ("DL2:0042:3:" + CODE.rsplit(":", 1)[1], "not_a_sheet_code"),  # same number, written differently
    ("https://example.com/", "not_a_sheet_code"),
    ("", "not_a_sheet_code"),
])
def test_forged_or_altered_codes_are_refused(text, refusal):
    with pytest.raises(SheetCodeRefused) as info:
        verify_sheet_code(KEY, text)
    assert info.value.code == refusal and info.value.reason


def test_a_printed_forged_code_reads_but_is_refused():
    forged = make_sheet_code(OTHER_KEY, 42, 3)
    reading = read_sheet(synth_v2.blank_page(forged, 200))
    assert reading.code == forged
    with pytest.raises(SheetCodeRefused, match="not printed by this Digit Lab"):
        verify_sheet_code(KEY, reading.code)
