"""Synthetic pages of the version 2 sheet: printed from the real PDF, written in, then "scanned" any way up.

printed_page() renders the service's own sheet PDF (projects.sheet_pdf.render_sheet_pdf_v2) with pypdfium2 at
the chosen dpi and writes handwriting into its cells with synth.write_cells (the same digits, specks, crossings
as the legacy golden tests). oriented() turns the page by quarter turns and/or mirrors it as a scanner might;
cover_code() scribbles over the QR code so it cannot be read. Ground truth stays per cell, so a test checks
that every label comes out right whichever way the page went through the scanner.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import cv2
import numpy as np
import synth

from digitlab.pipeline.decode import decode_file
from digitlab.pipeline.template import COLUMNS, DIGIT_LABELS, ROWS, SHEET_V2
from digitlab.projects.sheet_pdf import render_sheet_pdf_v2
from tests.api.sheetpages import turned

MM_PER_INCH = 25.4


@functools.cache
def sheet_pdf(code: str, page: int = 1, lang: str = "en", labels: tuple[str, ...] = tuple(DIGIT_LABELS)) -> bytes:
    return render_sheet_pdf_v2(list(labels), [(page, code)], title="Klasse 7b", lang=lang)


@functools.cache
def _printed(pdf: bytes, dpi: int) -> np.ndarray:
    [page] = decode_file(pdf, pdf_dpi=dpi).pages  # pypdfium2, as an uploaded PDF is rendered
    page.gray.setflags(write=False)
    return page.gray


def blank_page(code: str, dpi: int = 300, **pdf_options) -> np.ndarray:
    """The empty printed sheet at `dpi` (a copy the caller may draw on)."""
    return _printed(sheet_pdf(code, **pdf_options), dpi).copy()


def printed_page(code: str, dpi: int = 300, seed: int = 0, ink: str = "black", **pdf_options) -> synth.SynthPage:
    """The sheet printed at `dpi` and filled in by hand (synth.write_cells), with the truth of every cell."""
    rng = np.random.default_rng(seed)
    gray = blank_page(code, dpi, **pdf_options)
    g = SHEET_V2
    ppm = dpi / MM_PER_INCH
    # PDF millimetres -> pixel-centre coordinates (pixel i covers [i, i + 1) of the rendered page)
    centre_x = (g.grid_left_mm + np.arange(COLUMNS + 1) * g.cell_mm) * ppm - 0.5
    centre_y = (g.grid_top_mm + np.arange(ROWS + 1) * g.cell_mm) * ppm - 0.5
    line_px = g.group_line_width_mm * ppm  # the thickest lines: written digits keep clear of all of them
    cell = g.cell_mm * ppm
    truth, digits, crossings, touching, boxes = synth.write_cells(gray, centre_x, centre_y, line_px, cell, ppm,
                                                                  rng, ink=ink)
    corners = np.array([[centre_x[0], centre_y[0]], [centre_x[-1], centre_y[0]],
                        [centre_x[-1], centre_y[-1]], [centre_x[0], centre_y[-1]]])
    return synth.SynthPage(gray=gray, truth=truth, digits=digits, corners=corners, cell_px=cell, crossings=crossings,
                           touching=touching, boxes=boxes, name=f"v2-{dpi}dpi-{ink}-s{seed}")


def oriented(page: synth.SynthPage, quarter_turns: int = 0, mirrored: bool = False) -> synth.SynthPage:
    """The page as a scanner might deliver it: mirrored (left-right), then turned clockwise by quarter turns.
    Corners and digit boxes move with it."""
    h, w = page.gray.shape
    m = np.eye(3)
    if mirrored:
        m = np.array([[-1, 0, w - 1], [0, 1, 0], [0, 0, 1]]) @ m
    for _ in range(quarter_turns % 4):
        m = np.array([[0, -1, h - 1], [1, 0, 0], [0, 0, 1]]) @ m  # (x, y) -> (h - 1 - y, x)
        h, w = w, h

    def move(points: np.ndarray) -> np.ndarray:
        return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), m).reshape(-1, 2)

    name = f"{page.name}-turn{quarter_turns % 4 * 90}" + ("-mirrored" if mirrored else "")
    return replace(page, gray=turned(page.gray, quarter_turns, mirrored), corners=move(page.corners),
                   boxes={k: move(v) for k, v in page.boxes.items()}, name=name)


def cover_code(page: synth.SynthPage) -> synth.SynthPage:
    """The QR code blacked out with a felt pen (a student hiding it), markers and grid intact: dense thick
    strokes over the whole code, more than its error correction can recover. For an upright page."""
    gray = page.gray.copy()
    ppm = max(gray.shape) / SHEET_V2.page_height_mm  # the page fills the image (a scan)
    x0, y0 = round(SHEET_V2.qr_left_mm * ppm), round(SHEET_V2.qr_top_mm * ppm)
    size = round(SHEET_V2.qr_size_mm * ppm)
    code = gray[y0 : y0 + size, x0 : x0 + size]  # a view: strokes stay inside the code's square
    step = 2.0 * ppm
    for k in range(int(2 * size / step) + 1):  # diagonal strokes 2 mm apart, 1.6 mm wide
        cv2.line(code, (int(k * step), 0), (int(k * step) - size, size), 25, max(2, int(1.6 * ppm)), cv2.LINE_AA)
    return replace(page, gray=gray, name=f"{page.name}-code-covered")
