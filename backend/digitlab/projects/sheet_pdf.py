"""The printable A4 grid sheet: the legacy plain 20 x 30 grid plus small grey text outside it.

Everything printed inside the grid would end up in the cells the extractor cuts, so the grid is exactly the
legacy one (geometry from pipeline.template.A4_SHEET) and the labels and title stay in the margins, clear
of the grid lines by LABEL_GAP_MM and TITLE_GAP_MM.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from digitlab.pipeline.template import A4_SHEET, COLUMNS, LABEL_COUNT, ROWS, ROWS_PER_LABEL, SheetGeometry

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


def _y(geometry: SheetGeometry, mm_from_top: float) -> float:
    """reportlab measures y upwards from the bottom edge; the template measures down from the top."""
    return (geometry.page_height_mm - mm_from_top) * mm


def _draw_grid(c: canvas.Canvas, g: SheetGeometry) -> None:
    left, right = g.grid_left_mm * mm, (g.grid_left_mm + g.grid_width_mm) * mm
    top, bottom = _y(g, g.grid_top_mm), _y(g, g.grid_top_mm + g.grid_height_mm)
    c.setStrokeGray(LINE_GRAY)
    c.setLineWidth(g.line_width_mm * mm)
    c.setLineCap(2)  # projecting caps: lines meet the outer frame with square, complete corners
    path = c.beginPath()
    for row in range(ROWS + 1):
        y = _y(g, g.grid_top_mm + row * g.cell_mm)
        path.moveTo(left, y)
        path.lineTo(right, y)
    for col in range(COLUMNS + 1):
        x = (g.grid_left_mm + col * g.cell_mm) * mm
        path.moveTo(x, top)
        path.lineTo(x, bottom)
    c.drawPath(path, stroke=1, fill=0)


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


def _fit_label(label: str, font: str, width: float, height: float) -> tuple[list[str], float]:
    """One line at up to LABEL_MAX_PT, or two lines when one would have to be smaller than
    LABEL_MIN_SINGLE_LINE_PT (8 wide letters need ~80 pt on one line, the box is ~30 pt wide)."""
    single = min(LABEL_MAX_PT, width / _width_at_1pt(label, font))
    if single >= LABEL_MIN_SINGLE_LINE_PT:
        return [label], single
    best = ([label], single)
    for first, second in _two_line_splits(label):
        widest = max(_width_at_1pt(first, font), _width_at_1pt(second, font))
        size = min(LABEL_MAX_PT, width / widest, height / 2.4)
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
                except Exception:  # missing or unreadable font file: use the others
                    continue
                pdfmetrics.registerFont(font)
                found.append((name, frozenset(font.face.charToGlyph)))
            if not found:
                raise RuntimeError("no usable TrueType font found (reportlab's Vera.ttf is missing)")
            _fonts = found
        return _fonts
