"""Filled-in version 2 sheets for the API tests: the sheet PDF the service serves, rendered like a printer's
page, a digit written in some cells, and put together into the multi-page PDF a school copier makes.

Helpers only (no tests here). The cells are written like scanpages.grid_page (the row's digit, row // 3), at the
version 2 layout (digitlab.pipeline.template.SHEET_V2). `turned` is also what the pipeline's synth_v2 uses.
"""

import io

import cv2
import numpy as np
from PIL import Image

from digitlab.pipeline.decode import decode_file
from digitlab.pipeline.sheet_code import make_sheet_code
from digitlab.pipeline.template import DIGIT_LABELS, SHEET_V2
from digitlab.projects.sheet_pdf import render_sheet_pdf_v2
from tests.api.scanpages import default_cells, write_digits

DPI = 150
NOT_THE_SERVERS_KEY = b"a key the server does not have"


def sheet_pdf(client, user, project_id: int, **params) -> bytes:
    response = client.get(f"/api/projects/{project_id}/sheet.pdf", headers=user.headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def forged_sheet_pdf(project_id: int, page: int = 1) -> bytes:
    """A sheet whose code looks right but was signed with another key (someone made it up)."""
    return render_sheet_pdf_v2(DIGIT_LABELS, [(page, make_sheet_code(NOT_THE_SERVERS_KEY, project_id, page))])


def filled(pdf: bytes, seed: int = 0, page: int = 0, dpi: int = DPI) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """The PDF's page printed at `dpi` with a digit in a few cells of every row; (image, written cells)."""
    gray = decode_file(pdf, pdf_dpi=dpi).pages[page].gray.copy()
    cells = default_cells(seed)
    rng = np.random.default_rng(seed)
    g = SHEET_V2
    cell = g.to_pixels(g.cell_mm, dpi)
    left, top = g.to_pixels(g.grid_left_mm, dpi), g.to_pixels(g.grid_top_mm, dpi)
    write_digits(gray, cells, left, top, cell, rng)
    return gray, cells


def turned(gray: np.ndarray, quarter_turns: int = 0, mirrored: bool = False) -> np.ndarray:
    """As a copier may deliver a page: mirrored (left-right), then turned clockwise by quarter turns."""
    if mirrored:
        gray = cv2.flip(gray, 1)
    for _ in range(quarter_turns % 4):
        gray = cv2.rotate(gray, cv2.ROTATE_90_CLOCKWISE)
    return np.ascontiguousarray(gray)


def copier_pdf(pages: list[np.ndarray], dpi: int = DPI) -> bytes:
    """One multi-page PDF of scanned pages (JPEG-compressed images, as copiers write them)."""
    first, *rest = [Image.fromarray(page) for page in pages]
    out = io.BytesIO()
    first.save(out, format="PDF", save_all=True, append_images=rest, resolution=dpi)
    return out.getvalue()
