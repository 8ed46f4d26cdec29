"""Files the API tests upload: synthetic grid pages, pages without a grid, and hostile files.

Helpers only (no tests here). Grid pages follow the printed sheet's geometry (digitlab.pipeline.template):
a 20 x 30 grid on A4, one written character in selected cells, the label of a row being labels[row // 3].
"""

import io
import struct
import zlib

import cv2
import numpy as np

from digitlab.pipeline.template import A4_SHEET, COLUMNS, ROWS

DPI = 150


def px(mm: float, dpi: int = DPI) -> int:
    return int(round(A4_SHEET.to_pixels(mm, dpi)))


def default_cells(seed: int = 0, per_row: int = 4) -> set[tuple[int, int]]:
    """A few written cells in every row (so every label gets samples); the seed varies the columns."""
    rng = np.random.default_rng(seed)
    return {(row, int(col)) for row in range(ROWS) for col in rng.choice(COLUMNS, size=per_row, replace=False)}


def grid_page(cells: set[tuple[int, int]] | None = None, *, seed: int = 0, dpi: int = DPI) -> np.ndarray:
    """A clean scan of a filled-in sheet: grey paper, thin dark grid lines, one digit (row // 3) per written cell."""
    cells = default_cells(seed) if cells is None else cells
    height, width = px(A4_SHEET.page_height_mm, dpi), px(A4_SHEET.page_width_mm, dpi)
    rng = np.random.default_rng(seed)
    page = np.full((height, width), 245, np.uint8)
    page = np.clip(page.astype(np.int16) + rng.integers(-6, 7, page.shape), 0, 255).astype(np.uint8)
    left, top = A4_SHEET.to_pixels(A4_SHEET.grid_left_mm, dpi), A4_SHEET.to_pixels(A4_SHEET.grid_top_mm, dpi)
    cell = A4_SHEET.to_pixels(A4_SHEET.cell_mm, dpi)
    line = max(1, px(A4_SHEET.line_width_mm, dpi) + 1)
    for col in range(COLUMNS + 1):
        x = int(round(left + col * cell))
        cv2.line(page, (x, int(round(top))), (x, int(round(top + ROWS * cell))), 25, line)
    for row in range(ROWS + 1):
        y = int(round(top + row * cell))
        cv2.line(page, (int(round(left)), y), (int(round(left + COLUMNS * cell)), y), 25, line)
    write_digits(page, cells, left, top, cell, rng)
    return page


def write_digits(page: np.ndarray, cells: set[tuple[int, int]], left: float, top: float, cell: float,
                 rng: np.random.Generator) -> None:
    """The row's digit (row // 3) in each of `cells` of the grid at (left, top) with this cell size, in place."""
    scale = cell / 45.0
    for row, col in cells:
        text = str(row // 3)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 3)
        jitter = rng.integers(-3, 4, 2)
        x = int(left + col * cell + (cell - tw) / 2 + jitter[0])
        y = int(top + row * cell + (cell + th) / 2 + jitter[1])
        cv2.putText(page, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 20, max(2, int(3 * scale)), cv2.LINE_AA)


def noise_page(seed: int = 1, dpi: int = DPI) -> np.ndarray:
    """A photo-like page without any grid: blurred random blotches."""
    height, width = px(A4_SHEET.page_height_mm, dpi), px(A4_SHEET.page_width_mm, dpi)
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 16, width // 16)).astype(np.uint8)
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(big, (0, 0), 3)


def png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def tiff(image: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="TIFF", compression="tiff_deflate")
    return out.getvalue()


def multipage_tiff(images: list[np.ndarray]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    first, *rest = [Image.fromarray(image) for image in images]
    first.save(out, format="TIFF", save_all=True, append_images=rest, compression="tiff_deflate")
    return out.getvalue()


def jpeg_with_orientation(image: np.ndarray, orientation: int) -> bytes:
    """A JPEG whose pixels are stored as given, with an EXIF orientation tag (as phones write them)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def small_png(seed: int = 0, size: tuple[int, int] = (120, 90)) -> bytes:
    """A small distinct image (distinct content avoids the duplicate-upload check)."""
    rng = np.random.default_rng(seed)
    return png(rng.integers(0, 256, size[::-1], dtype=np.uint8))


def pdf_pages(count: int, *, encrypt: str | None = None) -> bytes:
    """An A4 PDF with `count` pages, each with a little drawing (reportlab)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, encrypt=encrypt)
    for index in range(count):
        pdf.rect(50 + 10 * index, 50, 200, 300)
        pdf.drawString(100, 700, f"page {index + 1}")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def empty_pdf() -> bytes:
    """A well-formed PDF whose page tree has no pages."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A valid-looking PNG header claiming width x height pixels, with a tiny compressed body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    # A few rows of zeros; the claim in the header is what must be refused.
    idat = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def grid_geometry(dpi: int = DPI) -> tuple[float, float, float]:
    """(left, top, cell) in pixels of the grid grid_page draws."""
    return (A4_SHEET.to_pixels(A4_SHEET.grid_left_mm, dpi), A4_SHEET.to_pixels(A4_SHEET.grid_top_mm, dpi),
            A4_SHEET.to_pixels(A4_SHEET.cell_mm, dpi))


def blank_pdf(pages: int, width_pt: float, height_pt: float) -> bytes:
    """A PDF of blank pages of any size (reportlab): a few hundred bytes per page, however large it renders."""
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(width_pt, height_pt))
    for _ in range(pages):
        pdf.showPage()
    pdf.save()
    return out.getvalue()


# Eight of these in one upload (180 KB) once took the service down: 50 pages of ~9.9 million pixels each at
# 300 dpi (just under the 500-million-pixel limit per file), all decoded and held before anything was stored.
def page_bomb_pdf() -> bytes:
    return blank_pdf(50, 640, 890)


def damaged_page(seed: int = 7) -> tuple[np.ndarray, list[list[float]], int]:
    """A filled-in sheet whose middle rows were wiped out (a fold, a strip of tape), so the grid is not found.
    Returns the page, its grid's true corners (line centres, page pixels) and how many written cells are left."""
    cells = default_cells(seed)
    page = grid_page(cells, seed=seed)
    left, top, cell = grid_geometry()
    page[round(top + 12 * cell) : round(top + 20 * cell), :] = 245
    corners = [[left, top], [left + COLUMNS * cell, top], [left + COLUMNS * cell, top + ROWS * cell],
               [left, top + ROWS * cell]]
    return page, corners, sum(not 12 <= row < 20 for row, _ in cells)
