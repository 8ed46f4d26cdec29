"""The printable sheet: rendered at 300 dpi, its grid must be exactly where A4_SHEET says."""

import math
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest

from digitlab.pipeline.decode import PDFIUM_LOCK, decode_file
from digitlab.pipeline.template import A4_SHEET, COLUMNS, DIGIT_LABELS, ROWS, ROWS_PER_LABEL
from digitlab.projects import sheet_pdf
from digitlab.projects.sheet_pdf import render_sheet_pdf

DPI = 300
G = A4_SHEET
CUSTOM_LABELS = ["ä", "ß", "€", "Straße", "WWWWWWWW", "x", "Ωπ", "A b", "Æble", "0"]
DARK = 160  # grey text is ~90, black lines ~0, paper 255


def px(mm: float) -> float:
    return mm / 25.4 * DPI


def render(pdf: bytes) -> np.ndarray:
    pages = decode_file(pdf, pdf_dpi=DPI).pages
    assert len(pages) == 1
    return pages[0].gray


def page_text(pdf: bytes) -> str:
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(pdf)
        try:
            page = doc[0]
            textpage = page.get_textpage()
            text = textpage.get_text_bounded()
            textpage.close()
            page.close()
        finally:
            doc.close()
    return text


def line_mm(index: int, start: float) -> float:
    return start + index * G.cell_mm


@pytest.fixture(scope="module")
def digit_pdf() -> bytes:
    return render_sheet_pdf(DIGIT_LABELS, title="Klasse 7b")


@pytest.fixture(scope="module")
def digit_page(digit_pdf) -> np.ndarray:
    return render(digit_pdf)


def test_one_a4_portrait_page(digit_pdf):
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument(digit_pdf)
        try:
            assert len(doc) == 1
            page = doc[0]
            width, height = page.get_size()
            page.close()
        finally:
            doc.close()
    assert width == pytest.approx(595.28, abs=0.5)
    assert height == pytest.approx(841.89, abs=0.5)


def test_grid_lines_are_where_the_template_says(digit_page):
    gray = digit_page
    assert gray.shape == (math.ceil(px(G.page_height_mm)), math.ceil(px(G.page_width_mm)))
    # Sample each line in the middle of every cell it borders: 31 horizontal and 21 vertical lines.
    cell_mids_x = [round(px(G.grid_left_mm + (c + 0.5) * G.cell_mm)) for c in range(COLUMNS)]
    cell_mids_y = [round(px(G.grid_top_mm + (r + 0.5) * G.cell_mm)) for r in range(ROWS)]
    for row in range(ROWS + 1):
        y = math.floor(px(line_mm(row, G.grid_top_mm)))
        assert gray[y, cell_mids_x].max() < 100, f"horizontal line {row}"
    for col in range(COLUMNS + 1):
        x = math.floor(px(line_mm(col, G.grid_left_mm)))
        assert gray[cell_mids_y, x].max() < 100, f"vertical line {col}"


def test_lines_have_the_template_width(digit_page):
    # 0.25 mm is ~3 px at 300 dpi: dark at the centre, paper 3 px (0.25 mm) either side.
    x = px(G.grid_left_mm + 5 * G.cell_mm)
    profile = digit_page[round(px(G.grid_top_mm + 4.5 * G.cell_mm)), math.floor(x) - 4 : math.floor(x) + 5]
    dark = int((profile < 128).sum())
    assert 2 <= dark <= 4
    assert profile[0] > 245 and profile[-1] > 245


def test_cell_interiors_are_blank_paper(digit_page):
    """No separators, text or marks inside the grid: everything 0.4 mm off the lines is white."""
    gray = digit_page
    ys, xs = np.mgrid[0 : gray.shape[0], 0 : gray.shape[1]]
    y_mm, x_mm = (ys + 0.5) / DPI * 25.4, (xs + 0.5) / DPI * 25.4
    inside = (
        (x_mm > G.grid_left_mm)
        & (x_mm < G.grid_left_mm + G.grid_width_mm)
        & (y_mm > G.grid_top_mm)
        & (y_mm < G.grid_top_mm + G.grid_height_mm)
    )
    off_x = np.abs((x_mm - G.grid_left_mm + G.cell_mm / 2) % G.cell_mm - G.cell_mm / 2)
    off_y = np.abs((y_mm - G.grid_top_mm + G.cell_mm / 2) % G.cell_mm - G.cell_mm / 2)
    interior = inside & (off_x > 0.4) & (off_y > 0.4)
    assert interior.sum() > 0.8 * G.grid_width_mm * G.grid_height_mm * px(1) ** 2
    assert gray[interior].min() > 245


def test_paper_outside_the_grid_is_clear_near_the_grid(digit_page):
    gray = digit_page
    half_line = G.line_width_mm / 2
    rows = slice(0, gray.shape[0])
    # Left of the grid: >= 3 mm of paper before the labels.
    band = gray[rows, math.ceil(px(G.grid_left_mm - 3.0)) : math.floor(px(G.grid_left_mm - half_line - 0.05))]
    assert band.min() > 245
    # Above the grid: >= 4 mm of paper below the title.
    band = gray[math.ceil(px(G.grid_top_mm - 4.0)) : math.floor(px(G.grid_top_mm - half_line - 0.05)), :]
    assert band.min() > 245
    # Right of and below the grid: nothing at all.
    assert gray[:, math.ceil(px(G.grid_left_mm + G.grid_width_mm + half_line + 0.05)) :].min() > 245
    assert gray[math.ceil(px(G.grid_top_mm + G.grid_height_mm + half_line + 0.05)) :, :].min() > 245


def assert_labels_left_of_each_group(gray: np.ndarray) -> None:
    margin = gray[:, : math.floor(px(G.grid_left_mm - 3.0))]
    group_mm = ROWS_PER_LABEL * G.cell_mm
    for group in range(len(DIGIT_LABELS)):
        top = G.grid_top_mm + group * group_mm
        band = margin[round(px(top)) : round(px(top + group_mm))]
        ys, xs = np.nonzero(band < DARK)
        assert len(ys) > 20, f"no label for group {group}"
        centre_mm = top + (ys.mean() + 0.5) / DPI * 25.4
        assert abs(centre_mm - (top + group_mm / 2)) < 1.5, f"label {group} not centred on its rows"
        assert xs.min() >= px(5.5), f"label {group} too close to the paper edge"
    # Between groups the margin is empty: each label stays on its own three rows.
    for group in range(len(DIGIT_LABELS) + 1):
        boundary = px(G.grid_top_mm + group * group_mm)
        assert margin[round(boundary - px(2)) : round(boundary + px(2))].min() > 245


def test_labels_sit_left_of_each_group(digit_page, digit_pdf):
    assert_labels_left_of_each_group(digit_page)
    text = page_text(digit_pdf)
    for label in DIGIT_LABELS:
        assert label in text


def test_custom_unicode_labels():
    pdf = render_sheet_pdf(CUSTOM_LABELS, title="Wörter")
    assert_labels_left_of_each_group(render(pdf))
    text = "".join(page_text(pdf).split())
    for label in CUSTOM_LABELS:
        assert "".join(label.split()) in text  # long labels wrap onto two lines


def test_bundled_font_covers_german_letters_and_euro():
    font = sheet_pdf._font_for("äöüÄÖÜß€·…")
    assert font == "DigitLabVera"  # reportlab's own Vera.ttf: no system font needed


@pytest.mark.skipif(
    not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file(), reason="fonts-dejavu-core not installed"
)
def test_cyrillic_label_uses_a_font_that_has_it():
    assert sheet_pdf._font_for("Ж") == "DigitLabDejaVu"
    labels = ["Ж", *DIGIT_LABELS[1:]]
    assert "Ж" in page_text(render_sheet_pdf(labels))


def test_title_above_the_grid(digit_page, digit_pdf):
    title_band = digit_page[: math.floor(px(G.grid_top_mm - 4.0))]
    assert (title_band < DARK).sum() > 50
    assert "Digit Lab · Klasse 7b" in page_text(digit_pdf)


def test_no_title_leaves_the_top_margin_empty():
    gray = render(render_sheet_pdf(DIGIT_LABELS))
    assert gray[: math.floor(px(G.grid_top_mm - 1.0))].min() > 245


def test_long_title_is_cut_to_60_characters():
    title = "A" * 50 + "BCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = page_text(render_sheet_pdf(DIGIT_LABELS, title=title))
    assert "Digit Lab · " + title[:59] + "…" in text
    assert "Z" not in text


def test_control_characters_are_dropped_from_title_and_labels():
    labels = ["a\u0308", *DIGIT_LABELS[1:]]  # decomposed "ä"
    text = page_text(render_sheet_pdf(labels, title="Line\nbreak\x00"))
    assert "ä" in text
    assert "Line break" in text


def test_output_is_deterministic():
    assert render_sheet_pdf(CUSTOM_LABELS, "x") == render_sheet_pdf(CUSTOM_LABELS, "x")


def test_needs_one_label_per_group():
    with pytest.raises(ValueError):
        render_sheet_pdf(DIGIT_LABELS[:9])


@pytest.mark.parametrize("labels", [DIGIT_LABELS, CUSTOM_LABELS], ids=["digits", "custom"])
def test_rendered_sheet_extracts_as_a_blank_grid(labels):
    try:
        from digitlab.pipeline import extract_page
    except ImportError:
        pytest.skip("digitlab.pipeline.extract_page is not available yet")
    gray = render(render_sheet_pdf(labels, title="Klasse 7b"))
    result = extract_page(gray, labels)  # raises GridNotFound when no grid is found
    # Outer grid corners TL, TR, BR, BL: within 1 mm of where the template puts them.
    left, top = G.grid_left_mm, G.grid_top_mm
    right, bottom = left + G.grid_width_mm, top + G.grid_height_mm
    expected = [(left, top), (right, top), (right, bottom), (left, bottom)]
    assert len(result.corners) == 4
    for (x, y), (x_mm, y_mm) in zip(result.corners, expected):
        assert abs(x - px(x_mm)) < px(1.0) and abs(y - px(y_mm)) < px(1.0)
    cells = list(result.cells)
    assert len(cells) == COLUMNS * ROWS
    assert {cell.status for cell in cells} == {"blank"}
    assert all(cell.label == labels[cell.row // ROWS_PER_LABEL] for cell in cells)
