"""Safe decoding of uploaded scans (PNG, JPEG, TIFF, PDF) into 8-bit grayscale pages.

Uploads are untrusted: the type comes from the bytes, never from the file name; the pixel count is checked
from the header before a single pixel is decoded (decompression bombs); truncated and broken files become
an `ImageRejected` with a code for programs and a sentence for students.

Decoder choice, measured on this machine (2 cores, idle) for a 300-dpi A4 scan (2481x3508), medians:

                      cv2.imdecode   Pillow only   Pillow header + OpenCV pixels (what we do)
    PNG gray  5.0 MB      53 ms         58 ms         54 ms
    PNG RGB  14.2 MB     134 ms        164 ms        135 ms
    JPEG RGB  1.8 MB      27 ms         28 ms         28 ms

So Pillow reads the header (size and mode without decoding: our bomb check), OpenCV decodes the pixels of
the common case (8-bit gray or RGB PNG/JPEG, one page) straight to gray and applies EXIF orientation itself.
OpenCV cannot tell a truncated file from a corrupt one (it returns None and prints libpng noise), and older
versions returned partial JPEGs silently. So after OpenCV, a cheap structural check (PNG chunks up to
IEND ~0.4 ms, JPEG markers up to EOI ~2 ms) confirms the file is complete; when OpenCV fails or the check
doubts, Pillow decodes the file (LOAD_TRUNCATED_IMAGES False, its default: `load()` raises for truncated
data) and either succeeds or says exactly what is wrong. Everything else (alpha, palette, 1-bit, 16-bit,
CMYK, multi-page TIFF) goes through Pillow, which handles every mode and per-page TIFF tags.

Reduced scale (`reduce_to_long_side`, for the extraction): a single-page JPEG can be decoded at 1/2, 1/4 or 1/8
of its size by libjpeg's DCT scaling (OpenCV's IMREAD_REDUCED_GRAYSCALE_*, Pillow's draft), which skips most of
the inverse DCT (not the entropy decoding) and gives a page averaged like an INTER_AREA shrink: a 300-dpi A4
scan at half size costs ~23 instead of ~32 ms CPU. The factor is the largest that keeps the page's long side at
least that many pixels; `PageImage.scale` says which was used, so callers can map pixel coordinates back to the
full page (a page flipped by its EXIF orientation with an odd side is off by half a full-size pixel there).
Other kinds are always decoded at full size (PNG has no cheap reduction).
"""

from __future__ import annotations

import io
import math
import re
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, cast

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

if TYPE_CHECKING:
    from PIL.TiffImagePlugin import TiffImageFile

# Our own limit (decode_file's max_pixels) replaces Pillow's process-wide bomb check: ours knows the
# caller's limit, runs before decoding and explains itself to a student; Pillow's would warn or raise
# with its own fixed thresholds first. Consequence: decode user images through decode_file only.
Image.MAX_IMAGE_PIXELS = None

# PDFium is not thread-safe, not even across different documents (pypdfium2 docs, "Incompatibility with
# Threading"); the web backend may decode in a thread pool. Every PDFium call in the process should hold
# this lock; other modules that use pypdfium2 should import and take it too.
PDFIUM_LOCK = threading.RLock()

REJECT_CODES = frozenset(
    {
        "empty",
        "unsupported_type",
        "truncated",
        "corrupt",
        "too_many_pixels",
        "too_many_pages",
        "too_small",
        "pdf_no_pages",
        "pdf_encrypted",
    }
)

MEDIA_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
    "pdf": "application/pdf",
}

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF"}
_KIND_NAMES = {"png": "PNG image", "jpeg": "JPEG image", "tiff": "TIFF image", "pdf": "PDF"}

# Formats students plausibly upload by mistake: named in the message so they know what to do.
_OTHER_SIGNATURES = [
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"PK\x03\x04", "a ZIP archive (or a Word/OpenOffice document)"),
]

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Default cap on all pages of one file together: ~57 A4 pages at 300 dpi, ~500 MB of 8-bit gray.
# max_pixels alone would still let 50 pages of 60 MP each (3 GB) through.
DEFAULT_MAX_TOTAL_PIXELS = 500_000_000


class ImageRejected(ValueError):
    """An upload we refuse, with a machine code and a sentence a school student understands."""

    def __init__(self, code: str, message: str):
        if code not in REJECT_CODES:
            raise ValueError(f"unknown rejection code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self):  # picklable, e.g. across a process pool: rebuild from code and message
        return (type(self), (self.code, self.message))

    def __repr__(self) -> str:
        return f"ImageRejected(code={self.code!r}, message={self.message!r})"


@dataclass
class PageImage:
    index: int  # page number within the file, 0-based
    gray: np.ndarray  # uint8 HxW grayscale, EXIF orientation applied
    # Full-size pixels per pixel of gray: 1, or 2, 4, 8 for a JPEG decoded at reduced scale (reduce_to_long_side).
    # A point (x, y) of gray is (x * scale + (scale - 1) / 2, y * scale + ...) on the full page (flatfield.to_full).
    scale: int = 1


@dataclass
class DecodedFile:
    kind: str  # "png" | "jpeg" | "tiff" | "pdf"
    media_type: str
    pages: list[PageImage]


def sniff_kind(data: bytes) -> str | None:
    """The file's kind from its magic bytes, or None when it is none of ours."""
    if data.startswith(_PNG_MAGIC):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] in _TIFF_MAGIC:
        return "tiff"
    # The PDF spec lets readers accept the header within the first 1024 bytes, and real files from
    # some scanner software do start with junk; PDFium accepts them too.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    return None


class OpenedFile:
    """A file opened to be decoded one page at a time (bounded memory, whatever the file holds).

    Opening reads only headers (the PDF's page sizes): the kind, the page count and every page's size are
    known and already checked against the limits. `page(i)` decodes or renders one page; a caller that
    drops each page before asking for the next holds one page in memory, never the whole file. Close it
    (it is a context manager): a PDF stays open in PDFium until then.
    """

    def __init__(self, kind: str, sizes: list[tuple[int, int]], reader: _RasterReader | _PdfReader):
        self.kind = kind
        self.media_type = MEDIA_TYPES[kind]
        self.sizes = sizes  # (width, height) of every page in pixels, as stored (before EXIF orientation)
        self._reader = reader

    @property
    def page_count(self) -> int:
        return len(self.sizes)

    @property
    def total_pixels(self) -> int:
        return sum(width * height for width, height in self.sizes)

    def page(self, index: int) -> PageImage:
        if not 0 <= index < self.page_count:
            raise IndexError(index)
        gray, scale = self._reader.page(index)
        return PageImage(index=index, gray=gray, scale=scale)

    def pages(self) -> Iterator[PageImage]:
        for index in range(self.page_count):
            yield self.page(index)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> OpenedFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_file(
    source: bytes | bytearray | memoryview | str | PathLike[str],
    *,
    max_pixels: int = 60_000_000,
    max_pages: int = 50,
    pdf_dpi: int = 300,
    max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS,
    min_side: int = 1,
    reduce_to_long_side: int | None = None,
) -> OpenedFile:
    """Open an uploaded file (its bytes, or a path to it) for decoding page by page, or raise ImageRejected.

    max_pixels caps each page, max_total_pixels all pages together, min_side is the smallest width and
    height a page may have; all are checked from headers (or the PDF page size) before anything is decoded
    or rendered. A PDF given as a path is read by PDFium from the file as it needs it. reduce_to_long_side:
    decode a single-page JPEG at the smallest DCT scale (1/2, 1/4, 1/8) whose long side is still at least this
    many pixels (see PageImage.scale); None decodes everything at full size.
    """
    if pdf_dpi <= 0:
        raise ValueError("pdf_dpi must be positive")
    limits = _Limits(max_pixels, max_pages, max_total_pixels, max(1, min_side))
    if isinstance(source, (str, PathLike)):
        path = Path(source)
        with path.open("rb") as handle:
            head = handle.read(1024)
        kind = _sniff_or_reject(head)
        if kind == "pdf":
            return _open_pdf(limits, pdf_dpi, path=path)
        data = path.read_bytes()
    else:
        data = bytes(source)  # accept bytearray/memoryview; Pillow and PDFium want immutable bytes
        kind = _sniff_or_reject(data)
        if kind == "pdf":
            return _open_pdf(limits, pdf_dpi, data=data)
    return _open_raster(data, kind, limits, reduce_to_long_side)


def decode_file(
    data: bytes,
    *,
    max_pixels: int = 60_000_000,
    max_pages: int = 50,
    pdf_dpi: int = 300,
    max_total_pixels: int = DEFAULT_MAX_TOTAL_PIXELS,
    min_side: int = 1,
    reduce_to_long_side: int | None = None,
) -> DecodedFile:
    """Decode an uploaded file into grayscale pages (all of them in memory: for files known to be small,
    such as one page; see open_file for page by page), or raise ImageRejected."""
    return _decode_all(
        data,
        max_pixels=max_pixels,
        max_pages=max_pages,
        pdf_dpi=pdf_dpi,
        max_total_pixels=max_total_pixels,
        min_side=min_side,
        reduce_to_long_side=reduce_to_long_side,
    )


def decode_path(path: str | PathLike[str], **limits) -> DecodedFile:
    """decode_file for a file on disk (the CLI); the name's extension is ignored like everywhere else."""
    return _decode_all(Path(path), **limits)


def _decode_all(source: bytes | Path, **limits) -> DecodedFile:
    with open_file(source, **limits) as opened:
        return DecodedFile(kind=opened.kind, media_type=opened.media_type, pages=list(opened.pages()))


def _sniff_or_reject(head: bytes) -> str:
    if not head:
        raise ImageRejected("empty", "This file is empty (0 bytes). Please choose the scan again.")
    kind = sniff_kind(head)
    if kind is None:
        raise ImageRejected("unsupported_type", _unsupported_message(head))
    return kind


# --- limits -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Limits:
    max_pixels: int
    max_pages: int
    max_total_pixels: int
    min_side: int = 1

    def check_page_count(self, count: int) -> None:
        if count > self.max_pages:
            raise ImageRejected(
                "too_many_pages",
                f"This file has {count} pages; at most {self.max_pages} pages per file are allowed. "
                "Please split it into smaller files.",
            )

    def check_sizes(self, sizes: list[tuple[int, int]], kind: str) -> None:
        """sizes are (width, height) per page, known before decoding."""
        for index, (width, height) in enumerate(sizes):
            if width <= 0 or height <= 0:
                raise ImageRejected("corrupt", "This file is damaged: a page has no size.")
            if width < self.min_side or height < self.min_side:
                single = "This page is" if kind == "pdf" else "This image is"
                where = f"Page {index + 1} is" if len(sizes) > 1 else single
                raise ImageRejected(
                    "too_small",
                    f"{where} only {width} x {height} pixels: a scan of a sheet needs at least {self.min_side} "
                    "pixels on each side. Please scan the whole sheet (at 300 dpi).",
                )
            if width * height > self.max_pixels:
                if len(sizes) > 1:
                    where = f"Page {index + 1} is"
                else:
                    where = "This page is" if kind == "pdf" else "This image is"
                advice = "Please use A4 pages." if kind == "pdf" else "Please scan at 300 dpi."
                raise ImageRejected(
                    "too_many_pixels",
                    f"{where} too large: {width} x {height} pixels "
                    f"({_millions(width * height)} million), the limit is {_millions(self.max_pixels)} "
                    f"million pixels. {advice}",
                )
        total = sum(w * h for w, h in sizes)
        if total > self.max_total_pixels:
            raise ImageRejected(
                "too_many_pixels",
                f"All pages together are too large: {_millions(total)} million pixels, the limit is "
                f"{_millions(self.max_total_pixels)} million. Please upload fewer pages per file or "
                "scan at 300 dpi.",
            )


def _millions(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".removesuffix(".0")


def _unsupported_message(data: bytes) -> str:
    supported = "Please upload a PNG, JPEG, TIFF or PDF file."
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypheif"):
        return f"This is a HEIC photo (iPhone format), which is not supported. {supported}"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return f"This is a WebP image, which is not supported. {supported}"
    for magic, name in _OTHER_SIGNATURES:
        if data.startswith(magic):
            return f"This file is {name}, not a scan we can read. {supported}"
    return f"This file is not an image we can read. {supported}"


# --- PNG / JPEG / TIFF --------------------------------------------------------------------------------


def _open_raster(data: bytes, kind: str, limits: _Limits, reduce_to_long_side: int | None = None) -> OpenedFile:
    try:
        # formats= keeps Pillow from trying every other plugin on data we already identified.
        im = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]])
    except (ImageRejected, MemoryError):
        raise
    except Exception as exc:  # Pillow raises many types on hostile headers
        raise _broken(kind, data, exc) from exc
    try:
        # Only TIFF pages count; an animated PNG or an MPO (phone JPEG with a depth map) is one scan.
        count = cast("TiffImageFile", im).n_frames if kind == "tiff" else 1
        limits.check_page_count(count)
        sizes = []
        for i in range(count):
            if count > 1:
                im.seek(i)
            sizes.append(im.size)  # from the header, nothing decoded yet
        limits.check_sizes(sizes, kind)
    except BaseException as exc:
        im.close()
        if isinstance(exc, (ImageRejected, MemoryError)) or not isinstance(exc, Exception):
            raise
        raise _broken(kind, data, exc) from exc
    reduce = jpeg_reduction(sizes[0], reduce_to_long_side) if kind == "jpeg" and count == 1 else 1
    return OpenedFile(kind, sizes, _RasterReader(data, kind, im, count, reduce))


def jpeg_reduction(size: tuple[int, int], long_side: int | None) -> int:
    """The DCT scale denominator (1, 2, 4 or 8) that decodes a JPEG of `size` smallest with its long side still
    at least `long_side` px (libjpeg rounds the scaled sides up); 1 when long_side is None."""
    if long_side is None:
        return 1
    for factor in (8, 4, 2):
        if -(-max(size) // factor) >= long_side:
            return factor
    return 1


class _RasterReader:
    def __init__(self, data: bytes, kind: str, im: Image.Image, count: int, reduce: int = 1):
        self.data, self.kind, self.im, self.count, self.reduce = data, kind, im, count, reduce

    def page(self, index: int) -> tuple[np.ndarray, int]:
        im, kind = self.im, self.kind
        try:
            if self.count == 1 and _opencv_suits(im, kind):
                gray = _decode_with_opencv(self.data, kind, im.size, self.reduce)
                if gray is not None:
                    return gray, self.reduce
            if self.count > 1:
                im.seek(index)
            return _frame_to_gray(im, kind, self.reduce)
        except (ImageRejected, MemoryError):
            raise
        except Exception as exc:
            raise _broken(kind, self.data, exc) from exc

    def close(self) -> None:
        self.im.close()


def _opencv_suits(im: Image.Image, kind: str) -> bool:
    """Plain 8-bit gray or colour without transparency: OpenCV's gray output is then exactly ours."""
    return kind in ("png", "jpeg") and im.mode in ("L", "RGB") and "transparency" not in im.info


_OPENCV_GRAY_FLAGS = {
    1: cv2.IMREAD_GRAYSCALE,
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,  # JPEG: libjpeg's DCT scaling (EXIF orientation still applied)
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}


def _decode_with_opencv(data: bytes, kind: str, size: tuple[int, int], reduce: int = 1) -> np.ndarray | None:
    """The page decoded by OpenCV (EXIF orientation applied), at 1/reduce scale (JPEG only), or None to let
    Pillow decide."""
    try:
        gray = cv2.imdecode(np.frombuffer(data, np.uint8), _OPENCV_GRAY_FLAGS[reduce])
    except cv2.error:  # e.g. allocation failure: Pillow's attempt raises MemoryError or explains
        return None
    width, height = -(-size[0] // reduce), -(-size[1] // reduce)  # libjpeg rounds scaled sides up
    if gray is None or gray.shape not in ((height, width), (width, height)):
        return None
    if _ends_early(kind, data):  # don't trust a decoder that may have filled a short file with grey
        return None
    return gray


def _frame_to_gray(im: Image.Image, kind: str, reduce: int = 1) -> tuple[np.ndarray, int]:
    """The frame as gray pixels, and the scale it was decoded at (reduce, for a JPEG Pillow could reduce)."""
    scale = 1
    if kind == "jpeg":
        # Ask libjpeg for the luma plane only: skips the colour conversion (halves colour JPEG time); with
        # reduce > 1 also for DCT scaling by exactly that factor (draft picks the largest one fitting the size).
        width, height = im.size
        im.draft("L", (width // reduce, height // reduce) if reduce > 1 else None)
        scale = reduce if im.size == (-(-width // reduce), -(-height // reduce)) else 1
    im.load()  # raises on truncated data (LOAD_TRUNCATED_IMAGES is False by default)
    gray = _to_gray(im)
    return _apply_orientation(gray, _orientation(im, kind)), scale


def _to_gray(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode == "L":
        return _l_pixels(im)
    if mode.startswith("I;16"):
        # Pillow's convert("L") clips 16-bit values at 255 instead of scaling; keep the top 8 bits.
        return (np.asarray(im).astype(np.uint16) >> 8).astype(np.uint8)
    if mode == "I":
        # 32-bit integer pages (rare TIFFs) carry no declared range: values up to 255 are taken as 8-bit,
        # up to 65535 as 16-bit, anything larger is scaled by its maximum.
        wide = np.clip(np.asarray(im).astype(np.int64), 0, None)
        top = int(wide.max()) if wide.size else 0
        if top <= 255:
            return wide.astype(np.uint8)
        if top <= 65535:
            return (wide >> 8).astype(np.uint8)
        return (wide * 255 // top).astype(np.uint8)
    if mode == "F":
        values = np.nan_to_num(np.asarray(im, dtype=np.float32))
        scale = 255.0 if values.size and values.max() <= 1.0 else 1.0  # float TIFFs come as 0..1 or 0..255
        return np.clip(values * scale + 0.5, 0, 255).astype(np.uint8)
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or (mode == "P" and "transparency" in im.info):
        return _flatten_alpha(im)
    if mode in ("RGB", "1", "P", "CMYK", "YCbCr", "LAB", "HSV"):
        # Pillow's luma conversion uses the same ITU-R 601 weights as OpenCV.
        try:
            return _l_pixels(im.convert("L"))
        except ValueError:  # modes without a direct path to L
            pass
    return _l_pixels(im.convert("RGB").convert("L"))


def _l_pixels(im: Image.Image) -> np.ndarray:
    """A writable copy of an L-mode image; np.asarray(im) is read-only and, measured, slower."""
    width, height = im.size
    return np.frombuffer(bytearray(im.tobytes()), dtype=np.uint8).reshape(height, width)


def _flatten_alpha(im: Image.Image) -> np.ndarray:
    """Composite over white paper: transparent pixels often hold black RGB, which would read as ink."""
    rgba = im.convert("RGBA") if im.mode != "RGBA" else im
    arr = np.asarray(rgba)
    luma = cv2.cvtColor(np.ascontiguousarray(arr[..., :3]), cv2.COLOR_RGB2GRAY).astype(np.uint32)
    alpha = arr[..., 3].astype(np.uint32)
    return ((luma * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _orientation(im: Image.Image, kind: str) -> int:
    try:
        # A TIFF's tags are per page (each frame has its own); other EXIF is read after load(), since a PNG's
        # eXIf chunk may follow IDAT.
        value = cast("TiffImageFile", im).tag_v2.get(0x0112, 1) if kind == "tiff" else im.getexif().get(0x0112, 1)
        value = int(value)
    except Exception:  # noqa: BLE001 - broken EXIF must not cost the student the page
        return 1
    return value if 1 <= value <= 8 else 1


def _apply_orientation(gray: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels into the upright view (EXIF 0x0112; phone photos are stored sideways)."""
    if orientation == 1:
        return gray
    view = {
        2: lambda a: a[:, ::-1],  # mirrored left-right
        3: lambda a: a[::-1, ::-1],  # upside down
        4: lambda a: a[::-1, :],  # mirrored top-bottom
        5: lambda a: a.T,  # transposed
        6: lambda a: a.T[:, ::-1],  # needs 90 degrees clockwise
        7: lambda a: a.T[::-1, ::-1],  # transversed
        8: lambda a: a.T[::-1, :],  # needs 90 degrees counter-clockwise
    }[orientation](gray)
    return np.ascontiguousarray(view)


def _broken(kind: str, data: bytes, exc: Exception) -> ImageRejected:
    name = _KIND_NAMES[kind]
    if "truncated" in str(exc).lower() or _ends_early(kind, data):
        return ImageRejected(
            "truncated",
            f"This {name} is incomplete: the file ends too early (maybe the upload or copy was "
            "interrupted). Please save or scan it again.",
        )
    return ImageRejected("corrupt", f"This {name} is damaged and cannot be opened. Please save or scan it again.")


def _ends_early(kind: str, data: bytes) -> bool:
    """Whether the file's own structure points past its end (only asked once decoding has failed)."""
    try:
        if kind == "png":
            return _png_ends_early(data)
        if kind == "jpeg":
            return _jpeg_ends_early(data)
        if kind == "tiff":
            return _tiff_ends_early(data)
    except struct.error:
        return True
    return False


def _png_ends_early(data: bytes) -> bool:
    pos = len(_PNG_MAGIC)
    for _ in range(1_000_000):  # bounded: a hostile file may hold millions of empty chunks
        if pos + 8 > len(data):
            return True
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if ctype == b"IEND":
            return False
        pos += 12 + length
    return False


# A JPEG marker inside entropy-coded data: 0xFF not followed by a stuffed 0x00, a restart marker or fill.
_JPEG_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_ends_early(data: bytes) -> bool:
    pos = 2  # after SOI
    for _ in range(100_000):
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes before a marker
        if pos + 2 > len(data):
            return True
        if data[pos] != 0xFF:
            return False  # garbage where a marker belongs: corrupt, not short
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI
            return False
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # stand-alone markers
            pos += 2
            continue
        if pos + 4 > len(data):
            return True
        (length,) = struct.unpack_from(">H", data, pos + 2)
        pos += 2 + length
        if pos > len(data):
            return True
        if marker == 0xDA:  # SOS: the scan's entropy-coded data runs to the next real marker
            found = _JPEG_MARKER_IN_SCAN.search(data, pos)
            if found is None:
                return True
            pos = found.start()
    return False


def _tiff_ends_early(data: bytes) -> bool:
    order = "<" if data[:2] == b"II" else ">"
    if data[2:4] in (b"+\x00", b"\x00+"):  # BigTIFF: 8-byte first-IFD offset at byte 8
        (first_ifd,) = struct.unpack_from(order + "Q", data, 8)
    else:
        (first_ifd,) = struct.unpack_from(order + "I", data, 4)
    if first_ifd >= len(data):
        return True  # writers often put the IFD after the pixel data, so a short file loses it
    try:
        im = cast("TiffImageFile", Image.open(io.BytesIO(data), formats=["TIFF"]))
        tags = im.tag_v2
        offsets = tags.get(273) or tags.get(324) or ()  # StripOffsets or TileOffsets
        counts = tags.get(279) or tags.get(325) or ()  # StripByteCounts or TileByteCounts
        return any(o + c > len(data) for o, c in zip(offsets, counts, strict=False))
    except Exception:  # noqa: BLE001 - Pillow raises many types on hostile headers
        return False


# --- PDF ----------------------------------------------------------------------------------------------

_PDF_COUNT_ZERO = re.compile(rb"/Count\s*0(?![0-9.])")
_PDF_COUNT_ANY = re.compile(rb"/Count\s*[0-9]")
_PDF_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def _open_pdf(limits: _Limits, dpi: int, *, data: bytes | None = None, path: Path | None = None) -> OpenedFile:
    scale = dpi / 72.0  # PDF units are points (1/72 inch)

    def whole_file() -> bytes:  # for the diagnosis of a file PDFium refused (bounded by the caller's size limit)
        if data is not None:
            return data
        assert path is not None
        return path.read_bytes()

    with PDFIUM_LOCK:
        # Load through the raw API: pypdfium2's PdfDocument(bytes) treats a document with zero pages as a
        # load failure and reports FPDF_GetLastError(), which is then stale (e.g. "password" left over
        # from someone else's locked PDF). Here the error is read only when loading really failed.
        if path is not None:
            raw = pdfium_c.FPDF_LoadDocument(str(path).encode("utf-8"), None)  # PDFium reads the file as needed
        else:
            assert data is not None
            raw = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
        if not raw:
            raise _pdf_load_error(whole_file(), pdfium_c.FPDF_GetLastError())
        doc = pdfium.PdfDocument(raw)  # `data` stays referenced by the reader while PDFium reads from it
        try:
            count = len(doc)
            if count == 0:
                raise _pdf_without_pages(whole_file())
            limits.check_page_count(count)
            sizes = []
            for i in range(count):
                page = doc[i]
                try:
                    width_pt, height_pt = page.get_size()
                finally:
                    page.close()
                # Same rounding as pypdfium2's render(), so the check matches the bitmap it allocates.
                sizes.append((math.ceil(width_pt * scale), math.ceil(height_pt * scale)))
            limits.check_sizes(sizes, "pdf")
        except BaseException as exc:
            doc.close()  # close under the lock: a garbage-collector finalizer could run in any thread
            if isinstance(exc, (ImageRejected, MemoryError)) or not isinstance(exc, Exception):
                raise
            raise _pdf_page_unreadable() from exc
    return OpenedFile("pdf", sizes, _PdfReader(doc, scale, data))


class _PdfReader:
    def __init__(self, doc: pdfium.PdfDocument, scale: float, data: bytes | None):
        self.doc, self.scale, self.data = doc, scale, data
        self.closed = False

    def page(self, index: int) -> tuple[np.ndarray, int]:
        with PDFIUM_LOCK:  # every PDFium call, also between the pages of one file
            try:
                return _render_pdf_page(self.doc, index, self.scale), 1
            except (ImageRejected, MemoryError):
                raise
            except Exception as exc:  # a page PDFium cannot load or render
                raise _pdf_page_unreadable() from exc

    def close(self) -> None:
        with PDFIUM_LOCK:
            if not self.closed:
                self.closed = True
                self.doc.close()


def _pdf_page_unreadable() -> ImageRejected:
    return ImageRejected("corrupt", "This PDF is damaged: a page cannot be read. Please save or scan it again.")


def _render_pdf_page(doc: pdfium.PdfDocument, index: int, scale: float) -> np.ndarray:
    page = doc[index]
    try:
        # Grayscale rendering gives a 1-byte gray bitmap: no RGB buffer, no conversion afterwards.
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            pixels = bitmap.to_numpy()
            if pixels.ndim == 3:
                pixels = pixels[..., 0]
            return np.array(pixels, dtype=np.uint8, copy=True)  # the bitmap's buffer dies with close()
        finally:
            bitmap.close()
    finally:
        page.close()


def _pdf_load_error(data: bytes, err_code: int | None) -> ImageRejected:
    if err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
        return ImageRejected(
            "pdf_encrypted",
            "This PDF is protected with a password. Please save it again without a password "
            "(or upload the scans as images).",
        )
    # PDFium refuses a document without pages with the same "format error" as a broken one; a page
    # tree saying /Count 0 and no page objects tells them apart (hidden if compressed: then "corrupt").
    if (
        _PDF_COUNT_ZERO.search(data)
        and not _PDF_PAGE_OBJECT.search(data)
        and len(_PDF_COUNT_ANY.findall(data)) == len(_PDF_COUNT_ZERO.findall(data))
    ):
        return _no_pages()
    if _pdf_ends_early(data):
        return _pdf_truncated()
    return ImageRejected("corrupt", "This PDF is damaged and cannot be opened. Please save or scan it again.")


def _pdf_without_pages(data: bytes) -> ImageRejected:
    """PDFium opened the file but found no pages: really empty, or cut off / damaged before its pages?"""
    if _pdf_ends_early(data):
        return _pdf_truncated()
    if _PDF_PAGE_OBJECT.search(data):
        return ImageRejected("corrupt", "This PDF is damaged: its pages cannot be found. Please save it again.")
    return _no_pages()


def _pdf_ends_early(data: bytes) -> bool:
    # Every complete PDF (also after incremental updates) ends with %%EOF; allow some trailing junk.
    return b"%%EOF" not in data[-1024:]


def _pdf_truncated() -> ImageRejected:
    return ImageRejected(
        "truncated",
        "This PDF is incomplete: the file ends too early (maybe the upload or copy was interrupted). "
        "Please save or scan it again.",
    )


def _no_pages() -> ImageRejected:
    return ImageRejected("pdf_no_pages", "This PDF has no pages. Please upload the PDF with your scans.")
