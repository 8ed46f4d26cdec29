"""Login cards: one card per student with the class, the username, a one-time password and where to log in;
ten cards to an A4 page (2 columns x 5 rows of 90 x 55 mm) with dashed cut lines along every card edge, drawn
across the whole page so that a guillotine can follow them. And QR codes (segno) for cards and join codes.

The PDF is made in memory and sent once: the passwords in it are stored nowhere else.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from digitlab.projects.sheet_pdf import _clean_text, _font_for

COLUMNS, ROWS = 2, 5
CARD_WIDTH_MM, CARD_HEIGHT_MM = 90.0, 55.0
PADDING_MM = 5.0
QR_MM = 20.0
SECRET_FONT = "Courier-Bold"  # fixed width: every character of a password stands apart
LABEL_PT, SECRET_PT, SMALL_PT = 7.0, 14.0, 6.5
CUT_GRAY, LABEL_GRAY = 0.6, 0.35
CARDS_PER_PAGE = COLUMNS * ROWS

TEXTS = {
    "en": {
        "username": "Username",
        "password": "One-time password",
        "where": "Log in at",
        "note": "After logging in you choose your own password.",
    },
    "de": {
        "username": "Benutzername",
        "password": "Einmal-Passwort",
        "where": "Anmelden unter",
        "note": "Nach dem Anmelden wählst du dein eigenes Passwort.",
    },
}


@dataclass(frozen=True)
class Card:
    username: str
    password: str


def qr_svg(url: str) -> bytes:
    """A QR code of `url` as a standalone SVG (black on white, with the quiet zone around it)."""
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="svg", scale=8, border=4, title=url)
    return buffer.getvalue()


def render_login_cards(class_name: str, cards: list[Card], app_url: str, language: str = "en") -> bytes:
    """The cards as a PDF, in the given order, ten to a page."""
    texts = TEXTS[language]
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4)
    c.setTitle("Digit Lab login cards")
    c.setCreator("Digit Lab")
    width, height = A4
    left = (width - COLUMNS * CARD_WIDTH_MM * mm) / 2
    top = height - (height - ROWS * CARD_HEIGHT_MM * mm) / 2
    qr = segno.make(app_url, error="m", micro=False)
    name = _clean_text(class_name)
    for start in range(0, len(cards), CARDS_PER_PAGE):
        _draw_cut_lines(c, left, top)
        for index, card in enumerate(cards[start : start + CARDS_PER_PAGE]):
            row, column = divmod(index, COLUMNS)
            x = left + column * CARD_WIDTH_MM * mm
            y = top - (row + 1) * CARD_HEIGHT_MM * mm
            _draw_card(c, x, y, name, card, app_url, qr, texts)
        c.showPage()
    c.save()
    return buffer.getvalue()


def _draw_cut_lines(c: canvas.Canvas, left: float, top: float) -> None:
    width, height = A4
    c.saveState()
    c.setStrokeGray(CUT_GRAY)
    c.setLineWidth(0.4)
    c.setDash(3, 3)
    for row in range(ROWS + 1):
        y = top - row * CARD_HEIGHT_MM * mm
        c.line(0, y, width, y)
    for column in range(COLUMNS + 1):
        x = left + column * CARD_WIDTH_MM * mm
        c.line(x, 0, x, height)
    c.restoreState()


def _fitted(text: str, font: str, size: float, width: float) -> float:
    """The font size at most `size` at which `text` fits `width`."""
    return min(size, width / max(pdfmetrics.stringWidth(text, font, 1.0), 1e-6))


def _text(c: canvas.Canvas, x: float, y: float, text: str, font: str, size: float, width: float, gray=0.0) -> None:
    c.setFillGray(gray)
    c.setFont(font, _fitted(text, font, size, width))
    c.drawString(x, y, text)


def _draw_card(
    c: canvas.Canvas, x: float, y: float, class_name: str, card: Card, app_url: str, qr: segno.QRCode, texts: dict
) -> None:
    pad = PADDING_MM * mm
    inner = CARD_WIDTH_MM * mm - 2 * pad
    beside_qr = inner - QR_MM * mm - 3 * mm
    top = y + CARD_HEIGHT_MM * mm - pad
    title = f"Digit Lab · {class_name}" if class_name else "Digit Lab"
    _text(c, x + pad, top - 9, title, _font_for(title), 10, inner)
    _text(c, x + pad, top - 21, texts["username"], _font_for(texts["username"]), LABEL_PT, beside_qr, LABEL_GRAY)
    _text(c, x + pad, top - 36, card.username, SECRET_FONT, SECRET_PT, beside_qr)
    _text(c, x + pad, top - 49, texts["password"], _font_for(texts["password"]), LABEL_PT, beside_qr, LABEL_GRAY)
    _text(c, x + pad, top - 64, card.password, SECRET_FONT, SECRET_PT, beside_qr)
    bottom = y + pad
    where = f"{texts['where']} {app_url}"
    _text(c, x + pad, bottom + 9, where, _font_for(where), SMALL_PT, beside_qr, LABEL_GRAY)
    _text(c, x + pad, bottom, texts["note"], _font_for(texts["note"]), SMALL_PT, beside_qr, LABEL_GRAY)
    _draw_qr(c, qr, x + CARD_WIDTH_MM * mm - pad - QR_MM * mm, bottom, QR_MM * mm)


def _draw_qr(c: canvas.Canvas, qr: segno.QRCode, x: float, y: float, size: float) -> None:
    """The QR code's dark modules as filled rectangles, one per run of dark modules in a row."""
    rows = [list(row) for row in qr.matrix_iter(border=0)]
    module = size / len(rows)
    c.setFillGray(0)
    for r, row in enumerate(rows):
        start = None
        for col, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                c.rect(
                    x + start * module, y + size - (r + 1) * module, (col - start) * module, module, stroke=0, fill=1
                )
                start = None
