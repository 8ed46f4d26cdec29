"""The printable A4 grid sheets.

Version 1 (`render_sheet_pdf`): the legacy plain 20 x 30 grid plus small grey text outside it. Everything printed
inside the grid would end up in the cells the extractor cuts, so the grid is exactly the legacy one (geometry from
pipeline.template.A4_SHEET) and the labels and title stay in the margins, clear of the grid lines by LABEL_GAP_MM
and TITLE_GAP_MM.

Version 2 (`render_sheet_pdf_v2`, geometry pipeline.template.SHEET_V2): four ArUco corner markers, a QR code with
the page's signed sheet code (which project, which page; never a name), a field for the nickname, one line of
instructions (English or German), each row's label right in front of it, and thicker lines between the groups of
three rows. Still nothing inside the cells.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from pathlib import Path

import cv2
import segno
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from digitlab.pipeline.markers import marker_dictionary
from digitlab.pipeline.template import (
    A4_SHEET,
    COLUMNS,
    LABEL_COUNT,
    ROWS,
    ROWS_PER_LABEL,
    SHEET_V2,
    SheetGeometry,
    SheetV2Geometry,
)

TITLE_MAX_CHARS = 60
TITLE_PREFIX = "Digit Lab · "
TITLE_PT = 8.0
LABEL_MAX_PT = 10.0
LABEL_MIN_SINGLE_LINE_PT = 7.0  # below this a long label reads better on two lines
LABEL_GAP_MM = 3.5  # clear paper between a label and the grid's left line (>= 3 mm asked)
TITLE_GAP_MM = 4.5  # clear paper between the title's descenders and the grid's top line (>= 4 mm asked)
PRINTER_MARGIN_MM = 6.0  # most printers cannot print closer than ~4-6 mm to the paper's edge
TEXT_GRAY = 0.35  # dark grey: readable, yet clearly not part of the black grid
LINE_GRAY = 0.0  # black grid lines, like the legacy sheet

# Fonts tried in order; the first that has a glyph for every character of a string draws it.
# Vera ships inside reportlab (Latin-1 and more: ä, ß, €, Œ, Ł ...). DejaVu Sans, when installed (Debian
# package fonts-dejavu-core), adds Greek, Cyrillic and much more; without it such labels still print,
# with PDF "missing glyph" boxes for the characters Vera lacks.
_FONT_CANDIDATES = [
    ("DigitLabVera", "Vera.ttf"),  # found through reportlab's TTFSearchPath (its own fonts folder)
    ("DigitLabDejaVu", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
]

_fonts_lock = threading.Lock()
_fonts: list[tuple[str, frozenset[int]]] | None = None  # (registered name, code points it covers)


def render_sheet_pdf(labels: list[str], title: str | None = None) -> bytes:
    """A one-page A4 PDF: the grid at A4_SHEET's position, each group's label left of its three rows,
    and an optional title ("Digit Lab · <title>", the title cut to 60 characters) above the grid."""
    if len(labels) != LABEL_COUNT:
        raise ValueError(f"need exactly {LABEL_COUNT} labels, one per group of {ROWS_PER_LABEL} rows")
    geometry = A4_SHEET
    buf = io.BytesIO()
    page_height = geometry.page_height_mm * mm
    # invariant: same input, same bytes (no timestamps or random ids), so the PDF can be cached and tested.
    c = canvas.Canvas(buf, pagesize=(geometry.page_width_mm * mm, page_height), invariant=1)
    clean_title = _clean_title(title)
    c.setTitle(f"Digit Lab grid sheet: {clean_title}" if clean_title else "Digit Lab grid sheet")
    c.setCreator("Digit Lab")

    _draw_grid(c, geometry)
    for group, label in enumerate(labels):
        _draw_label(c, geometry, group, _clean_text(label))
    if clean_title:
        _draw_title(c, geometry, TITLE_PREFIX + clean_title)

    c.showPage()
    c.save()
    return buf.getvalue()


# --- version 2 ------------------------------------------------------------------------------------------------
SHEET_TEXTS = {
    "en": {
        "page": "Page {page}",
        "nickname": "Nickname (never your real name):",
        "instructions": "In every box write the character in front of its row, with a dark pen. "
        "Keep the corners and the code clean.",
    },
    "de": {
        "page": "Seite {page}",
        "nickname": "Spitzname (nie dein echter Name):",
        "instructions": "Schreibe in jedes Kästchen das Zeichen vor seiner Zeile, mit dunklem Stift. "
        "Ecken und Code sauber lassen.",
    },
}
SHEET_LANGUAGES = tuple(SHEET_TEXTS)
ROW_LABEL_MAX_PT = 12.0
HEADER_TITLE_PT = 11.0
HEADER_TEXT_PT = 9.0
INSTRUCTIONS_MAX_PT = 7.5
QR_BORDER_MODULES = 2  # the code's own quiet zone; the layout keeps more paper clear around it


def render_sheet_pdf_v2(
    labels: list[str], pages: list[tuple[int, str]], title: str | None = None, lang: str = "en"
) -> bytes:
    """An A4 PDF with one version 2 sheet per (page number, sheet code) in `pages`. The codes are made by the
    caller (digitlab.pipeline.sheet_code, signed with the server's key); this module only draws them."""
    if len(labels) != LABEL_COUNT:
        raise ValueError(f"need exactly {LABEL_COUNT} labels, one per group of {ROWS_PER_LABEL} rows")
    if not pages:
        raise ValueError("need at least one page")
    if lang not in SHEET_TEXTS:
        raise ValueError(f"language must be one of {SHEET_LANGUAGES}")
    g = SHEET_V2
    texts = SHEET_TEXTS[lang]
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(g.page_width_mm * mm, g.page_height_mm * mm), invariant=1)
    clean_title = _clean_title(title)
    c.setTitle(f"Digit Lab grid sheet: {clean_title}" if clean_title else "Digit Lab grid sheet")
    c.setCreator("Digit Lab")
    row_labels = [_clean_text(label) for label in labels]
    for page, code in pages:
        for corner in range(4):
            _draw_marker(c, g, corner)
        _draw_qr(c, g, code)
        _draw_header(c, g, clean_title, texts, page)
        _draw_grid(c, g, g.group_line_width_mm)
        for row in range(ROWS):
            _draw_row_label(c, g, row, row_labels[row // ROWS_PER_LABEL])
        c.showPage()
    c.save()
    return buf.getvalue()


def _draw_marker(c: canvas.Canvas, g: SheetV2Geometry, corner: int) -> None:
    """The ArUco marker of this page corner, black border included, as filled squares (crisp at any dpi)."""
    bits = cv2.aruco.generateImageMarker(marker_dictionary(), g.marker_ids[corner], 6, borderBits=1)
    _draw_modules(c, g, bits == 0, *g.marker_origin_mm(corner), g.marker_mm)


def _draw_qr(c: canvas.Canvas, g: SheetV2Geometry, code: str) -> None:
    qr = segno.make_qr(code, error="m", boost_error=True)  # never a Micro QR: OpenCV does not read those
    dark = [[bool(v) for v in row] for row in qr.matrix_iter(border=QR_BORDER_MODULES)]
    _draw_modules(c, g, dark, g.qr_left_mm, g.qr_top_mm, g.qr_size_mm)


def _draw_modules(c: canvas.Canvas, g: SheetGeometry, dark, left_mm: float, top_mm: float, size_mm: float) -> None:
    """A square matrix of dark/light modules filling a size_mm square; each row's dark runs as one rectangle,
    slightly overlapping the next row so no hairline of paper shows between rows."""
    n = len(dark)
    module = size_mm / n
    c.setFillGray(0.0)
    for i, row in enumerate(dark):
        j = 0
        while j < n:
            if not row[j]:
                j += 1
                continue
            start = j
            while j < n and row[j]:
                j += 1
            x = (left_mm + start * module) * mm
            y = _y(g, top_mm + (i + 1) * module)
            c.rect(x, y, (j - start) * module * mm, module * mm * 1.02, stroke=0, fill=1)


def _draw_header(c: canvas.Canvas, g: SheetV2Geometry, title: str, texts: dict[str, str], page: int) -> None:
    left, right = g.header_left_mm * mm, g.header_right_mm * mm
    heading = " · ".join(part for part in ("Digit Lab", title, texts["page"].format(page=page)) if part)
    font = _font_for(heading)
    c.setFillGray(0.0)
    c.setFont(font, min(HEADER_TITLE_PT, (right - left) / _width_at_1pt(heading, font)))
    c.drawString(left, _y(g, 13.0), heading)
    # The nickname field: a label and a line to write on.
    label = texts["nickname"]
    font = _font_for(label)
    c.setFont(font, HEADER_TEXT_PT)
    c.drawString(left, _y(g, 22.0), label)
    start = left + _width_at_1pt(label, font) * HEADER_TEXT_PT + 2 * mm
    c.setStrokeGray(0.0)
    c.setLineWidth(0.3 * mm)
    c.line(start, _y(g, 22.8), right, _y(g, 22.8))
    # One line of instructions, as large as fits.
    text = texts["instructions"]
    font = _font_for(text)
    c.setFillGray(TEXT_GRAY)
    c.setFont(font, min(INSTRUCTIONS_MAX_PT, (right - left) / _width_at_1pt(text, font)))
    c.drawString(left, _y(g, 29.5), text)


def _draw_row_label(c: canvas.Canvas, g: SheetV2Geometry, row: int, label: str) -> None:
    """The row's label right in front of its first box, where the student starts writing."""
    if not label:
        return
    font = _font_for(label)
    right = g.label_right_mm * mm
    width = right - PRINTER_MARGIN_MM * mm
    lines, size = _fit_label(label, font, width, g.cell_mm * mm * 0.9, max_pt=ROW_LABEL_MAX_PT)
    c.setFillGray(0.0)
    _draw_right_aligned_block(c, lines, font, size, right, _y(g, g.grid_top_mm + (row + 0.5) * g.cell_mm))


def _y(geometry: SheetGeometry, mm_from_top: float) -> float:
    """reportlab measures y upwards from the bottom edge; the template measures down from the top."""
    return (geometry.page_height_mm - mm_from_top) * mm


def _draw_grid(c: canvas.Canvas, g: SheetGeometry, group_line_width_mm: float | None = None) -> None:
    """The 20 x 30 grid; with group_line_width_mm the lines between groups of three rows are that thick, so each
    label's rows stand together."""
    left, right = g.grid_left_mm * mm, (g.grid_left_mm + g.grid_width_mm) * mm
    top, bottom = _y(g, g.grid_top_mm), _y(g, g.grid_top_mm + g.grid_height_mm)
    c.setStrokeGray(LINE_GRAY)
    c.setLineCap(2)  # projecting caps: lines meet the outer frame with square, complete corners
    thin, thick = c.beginPath(), c.beginPath()
    for row in range(ROWS + 1):
        y = _y(g, g.grid_top_mm + row * g.cell_mm)
        between_groups = 0 < row < ROWS and row % ROWS_PER_LABEL == 0
        path = thick if group_line_width_mm and between_groups else thin
        path.moveTo(left, y)
        path.lineTo(right, y)
    for col in range(COLUMNS + 1):
        x = (g.grid_left_mm + col * g.cell_mm) * mm
        thin.moveTo(x, top)
        thin.lineTo(x, bottom)
    c.setLineWidth(g.line_width_mm * mm)
    c.drawPath(thin, stroke=1, fill=0)
    if group_line_width_mm:
        c.setLineWidth(group_line_width_mm * mm)
        c.drawPath(thick, stroke=1, fill=0)


def _draw_label(c: canvas.Canvas, g: SheetGeometry, group: int, label: str) -> None:
    if not label:
        return
    font = _font_for(label)
    # The label's box: from the printer margin to LABEL_GAP_MM left of the grid line's outer edge.
    right = (g.grid_left_mm - g.line_width_mm / 2 - LABEL_GAP_MM) * mm
    width = right - PRINTER_MARGIN_MM * mm
    group_height = ROWS_PER_LABEL * g.cell_mm * mm
    if width <= 0:
        return  # a geometry without a left margin has no room for labels
    lines, size = _fit_label(label, font, width, group_height * 0.8)
    centre_y = _y(g, g.grid_top_mm + (group + 0.5) * ROWS_PER_LABEL * g.cell_mm)
    c.setFillGray(TEXT_GRAY)
    _draw_right_aligned_block(c, lines, font, size, right, centre_y)


def _fit_label(
    label: str, font: str, width: float, height: float, max_pt: float = LABEL_MAX_PT
) -> tuple[list[str], float]:
    """One line at up to max_pt, or two lines when one would have to be smaller than
    LABEL_MIN_SINGLE_LINE_PT (8 wide letters need ~80 pt on one line, the box is ~30 pt wide)."""
    single = min(max_pt, width / _width_at_1pt(label, font), height / 1.2)
    if single >= LABEL_MIN_SINGLE_LINE_PT:
        return [label], single
    best = ([label], single)
    for first, second in _two_line_splits(label):
        widest = max(_width_at_1pt(first, font), _width_at_1pt(second, font))
        size = min(max_pt, width / widest, height / 2.4)
        if size > best[1]:
            best = ([first, second], size)
    return best


def _two_line_splits(label: str):
    """Every split between two characters, never inside one (a letter plus its combining accents)."""
    clusters: list[str] = []
    for ch in label:
        if clusters and unicodedata.combining(ch):
            clusters[-1] += ch
        else:
            clusters.append(ch)
    for i in range(1, len(clusters)):
        first, second = "".join(clusters[:i]).strip(), "".join(clusters[i:]).strip()
        if first and second:
            yield first, second


def _draw_title(c: canvas.Canvas, g: SheetGeometry, text: str) -> None:
    font = _font_for(text)
    size = min(TITLE_PT, g.grid_width_mm * mm / _width_at_1pt(text, font))
    _, descent = pdfmetrics.getAscentDescent(font, size)  # descent is negative
    baseline = _y(g, g.grid_top_mm - g.line_width_mm / 2 - TITLE_GAP_MM) - descent
    c.setFillGray(TEXT_GRAY)
    c.setFont(font, size)
    c.drawString(g.grid_left_mm * mm, baseline, text)


def _draw_right_aligned_block(
    c: canvas.Canvas, lines: list[str], font: str, size: float, right: float, centre_y: float
) -> None:
    """Lines of text ending at x=right, their ascender-to-descender box vertically centred on centre_y."""
    ascent, descent = pdfmetrics.getAscentDescent(font, size)
    leading = size * 1.2
    block = ascent - descent + leading * (len(lines) - 1)
    baseline = centre_y + block / 2 - ascent
    c.setFont(font, size)
    for line in lines:
        c.drawRightString(right, baseline, line)
        baseline -= leading


def _width_at_1pt(text: str, font: str) -> float:
    return max(pdfmetrics.stringWidth(text, font, 1.0), 1e-6)


def _clean_text(text: str) -> str:
    """NFC (so "a" + combining diaeresis is the single glyph "ä"), line breaks and tabs as single spaces,
    without other control or format characters (they have no glyph)."""
    text = " ".join(unicodedata.normalize("NFC", text).split())
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith("C")).strip()


def _clean_title(title: str | None) -> str:
    if title is None:
        return ""
    text = _clean_text(title)
    if len(text) > TITLE_MAX_CHARS:
        text = text[: TITLE_MAX_CHARS - 1].rstrip() + "…"
    return text


def _font_for(text: str) -> str:
    """The first candidate font with a glyph for every character of text (else the best covering one)."""
    fonts = _registered_fonts()
    needed = {ord(ch) for ch in text if not ch.isspace()}
    best_name, best_missing = fonts[0][0], len(needed - fonts[0][1])
    for name, covered in fonts:
        missing = len(needed - covered)
        if missing == 0:
            return name
        if missing < best_missing:
            best_name, best_missing = name, missing
    return best_name


def _registered_fonts() -> list[tuple[str, frozenset[int]]]:
    global _fonts
    with _fonts_lock:  # reportlab's font registry is process-global; register each font once
        if _fonts is None:
            found = []
            for name, file in _FONT_CANDIDATES:
                if "/" in file and not Path(file).is_file():
                    continue
                try:
                    font = TTFont(name, file)
                except Exception:  # noqa: BLE001 - missing or unreadable font file: use the others
                    continue
                pdfmetrics.registerFont(font)
                found.append((name, frozenset(font.face.charToGlyph)))
            if not found:
                raise RuntimeError("no usable TrueType font found (reportlab's Vera.ttf is missing)")
            _fonts = found
        return _fonts
