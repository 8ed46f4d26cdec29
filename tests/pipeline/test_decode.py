"""Decoding uploads: every input is generated here, nothing large is checked in."""

import io
import math
import pickle
import struct
import subprocess
import sys
import textwrap
import time
import zlib

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageFile, ImageOps
from reportlab.lib.pagesizes import A4, A5, landscape
from reportlab.pdfgen import canvas

from digitlab.pipeline import decode
from digitlab.pipeline.decode import (
    PDFIUM_LOCK,
    DecodedFile,
    ImageRejected,
    PageImage,
    decode_file,
    decode_path,
    sniff_kind,
)

# --- builders -----------------------------------------------------------------------------------------


def pattern(height=60, width=40) -> np.ndarray:
    """Asymmetric test image: light paper, a dark block in the top-left corner, a gradient row."""
    img = np.full((height, width), 230, np.uint8)
    img[: height // 4, : width // 4] = 10
    img[-1, :] = np.linspace(0, 255, width).astype(np.uint8)
    return img


def pil_bytes(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def png_with_header(width: int, height: int) -> bytes:
    """A well-formed PNG whose IHDR claims width x height but whose IDAT holds only one tiny row."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray, no interlace
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def pdf_bytes(pagesizes, draw=None, **canvas_args) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=pagesizes[0], **canvas_args)
    for i, size in enumerate(pagesizes):
        c.setPageSize(size)
        if draw:
            draw(c, i, size)
        c.showPage()
    c.save()
    return buf.getvalue()


def rejected(data: bytes, **kwargs) -> ImageRejected:
    with pytest.raises(ImageRejected) as info:
        decode_file(data, **kwargs)
    return info.value


# --- basics and type detection ------------------------------------------------------------------------


def test_rejection_is_a_value_error_with_code_and_message():
    err = rejected(b"")
    assert isinstance(err, ValueError)
    assert err.code == "empty"
    assert err.message == str(err)
    assert "empty" in err.message and "0 bytes" in err.message
    copy = pickle.loads(pickle.dumps(err))  # job runners may send it across processes
    assert (copy.code, copy.message) == (err.code, err.message)


def test_sniff_kind_by_magic_bytes():
    assert sniff_kind(cv2.imencode(".png", pattern())[1].tobytes()) == "png"
    assert sniff_kind(cv2.imencode(".jpg", pattern())[1].tobytes()) == "jpeg"
    assert sniff_kind(pil_bytes(Image.fromarray(pattern()), "TIFF")) == "tiff"
    assert sniff_kind(pdf_bytes([A4])) == "pdf"
    assert sniff_kind(b"junk before the header\n%PDF-1.4\n") == "pdf"
    assert sniff_kind(b"hello, this is text") is None
    assert sniff_kind(b"") is None


def test_text_file_is_unsupported(tmp_path):
    path = tmp_path / "digits.png"
    path.write_text("these are my digits 0123456789\n")
    with pytest.raises(ImageRejected) as info:
        decode_path(path)
    assert info.value.code == "unsupported_type"
    assert "PNG, JPEG, TIFF or PDF" in info.value.message


@pytest.mark.parametrize(
    "data, hint",
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "WebP"),
        (b"GIF89a\x01\x00\x01\x00", "GIF"),
        (b"PK\x03\x04\x14\x00", "ZIP"),
    ],
)
def test_other_formats_are_named_in_the_message(data, hint):
    err = rejected(data)
    assert err.code == "unsupported_type"
    assert hint in err.message


def test_name_lying_file_is_decoded_by_content(tmp_path):
    img = pattern()
    path = tmp_path / "scan.pdf"  # PNG bytes under a PDF name
    path.write_bytes(cv2.imencode(".png", img)[1].tobytes())
    decoded = decode_path(path)
    assert (decoded.kind, decoded.media_type) == ("png", "image/png")
    np.testing.assert_array_equal(decoded.pages[0].gray, img)


# --- PNG / JPEG ---------------------------------------------------------------------------------------


def test_png_round_trip_returns_writable_uint8_page():
    img = pattern()
    decoded = decode_file(cv2.imencode(".png", img)[1].tobytes())
    assert isinstance(decoded, DecodedFile)
    assert decoded.kind == "png" and len(decoded.pages) == 1
    page = decoded.pages[0]
    assert isinstance(page, PageImage) and page.index == 0
    assert page.gray.dtype == np.uint8 and page.gray.shape == img.shape
    assert page.gray.flags.writeable and page.gray.flags.c_contiguous
    np.testing.assert_array_equal(page.gray, img)


def test_bytearray_input_is_accepted():
    img = pattern()
    decoded = decode_file(bytearray(cv2.imencode(".png", img)[1].tobytes()))
    np.testing.assert_array_equal(decoded.pages[0].gray, img)


def test_jpeg_colour_is_decoded_to_gray():
    bgr = np.zeros((48, 64, 3), np.uint8)
    bgr[:] = (40, 160, 220)  # an orange-ish paper
    decoded = decode_file(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes())
    assert decoded.kind == "jpeg" and decoded.media_type == "image/jpeg"
    gray = decoded.pages[0].gray
    expected = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    assert gray.shape == (48, 64)
    assert np.abs(gray.astype(int) - expected.astype(int)).max() <= 4


def test_png_truncated_in_the_middle():
    rng = np.random.default_rng(0)
    data = cv2.imencode(".png", rng.integers(0, 256, (200, 300), dtype=np.uint8))[1].tobytes()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # detection relies on Pillow's default
    err = rejected(data[: len(data) // 2])
    assert err.code == "truncated"
    assert "incomplete" in err.message


@pytest.mark.parametrize("keep", [0.5, 0.97, 300])
def test_jpeg_truncated(keep):
    rng = np.random.default_rng(1)
    data = cv2.imencode(".jpg", rng.integers(0, 256, (200, 300), dtype=np.uint8))[1].tobytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    assert rejected(data[:cut]).code == "truncated"


def test_png_cut_in_the_header_is_truncated():
    data = cv2.imencode(".png", pattern())[1].tobytes()
    assert rejected(data[:20]).code == "truncated"


def test_png_with_garbled_pixel_data_is_corrupt():
    rng = np.random.default_rng(2)
    data = bytearray(cv2.imencode(".png", rng.integers(0, 256, (200, 300), dtype=np.uint8))[1].tobytes())
    start = data.find(b"IDAT") + 100
    data[start : start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    assert rejected(bytes(data)).code == "corrupt"


def test_huge_png_is_rejected_from_its_header_quickly():
    data = png_with_header(20_000, 20_000)
    assert len(data) < 200
    started = time.perf_counter()
    err = rejected(data)
    elapsed = time.perf_counter() - started
    assert err.code == "too_many_pixels"
    assert "20000 x 20000" in err.message and "60 million" in err.message
    assert elapsed < 0.5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_huge_png_rejection_allocates_no_pixel_buffer():
    # In a fresh process with address space capped at "now + 150 MB", a decoder that allocated the
    # ~400 MB pixel buffer would hit MemoryError (Pillow allocates the whole image before reading IDAT,
    # so RSS alone would not show it). The second call, with our limit lifted, proves the cap bites.
    script = textwrap.dedent(
        """
        import resource, sys
        from digitlab.pipeline.decode import ImageRejected, decode_file
        data = sys.stdin.buffer.read()
        with open("/proc/self/status") as status:
            vm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (vm_kib * 1024 + 150 * 2**20, resource.RLIM_INFINITY))
        for limits in ({}, {"max_pixels": 10**10, "max_total_pixels": 10**10}):
            try:
                decode_file(data, **limits)
                print("decoded")
            except ImageRejected as exc:
                print(exc.code)
            except MemoryError:
                print("MemoryError")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=png_with_header(20_000, 20_000),
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.decode().split() == ["too_many_pixels", "MemoryError"]


def test_pixel_limit_is_configurable():
    data = cv2.imencode(".png", pattern(60, 40))[1].tobytes()
    assert rejected(data, max_pixels=2399).code == "too_many_pixels"
    assert decode_file(data, max_pixels=2400).pages[0].gray.shape == (60, 40)


def test_rgba_png_is_flattened_onto_white_paper():
    bgra = np.zeros((10, 20, 4), np.uint8)  # fully transparent black: must become paper, not ink
    bgra[:, 10:] = (0, 0, 255, 255)  # opaque red
    bgra[:5, :3] = (0, 0, 0, 128)  # half-transparent black
    gray = decode_file(cv2.imencode(".png", bgra)[1].tobytes()).pages[0].gray
    assert (gray[5:, :10] == 255).all()
    assert (gray[:, 10:] == 76).all()  # luma of pure red
    assert (np.abs(gray[:5, :3].astype(int) - 127) <= 1).all()


def test_16_bit_png_keeps_its_top_8_bits():
    wide = (np.arange(32 * 32, dtype=np.uint32).reshape(32, 32) * 64).astype(np.uint16)
    gray = decode_file(cv2.imencode(".png", wide)[1].tobytes()).pages[0].gray
    np.testing.assert_array_equal(gray, (wide >> 8).astype(np.uint8))


def test_16_bit_tiff():
    wide = pattern().astype(np.uint16) * 257  # full 16-bit range, as a 16-bit scanner writes it
    gray = decode_file(pil_bytes(Image.fromarray(wide), "TIFF")).pages[0].gray
    np.testing.assert_array_equal(gray, pattern())


def test_16_bit_colour_png():
    wide = np.full((8, 8, 3), 40000, np.uint16)
    gray = decode_file(cv2.imencode(".png", wide)[1].tobytes()).pages[0].gray
    assert (np.abs(gray.astype(int) - 40000 // 257) <= 1).all()


@pytest.mark.parametrize(
    "mode, fmt",
    [
        ("1", "PNG"),
        ("P", "PNG"),
        ("LA", "PNG"),
        ("RGB", "PNG"),
        ("CMYK", "JPEG"),
        ("CMYK", "TIFF"),
        ("I", "TIFF"),
        ("F", "TIFF"),
    ],
)
def test_other_modes_become_8_bit_gray(mode, fmt):
    img = pattern()
    im = Image.fromarray(img).convert(mode)
    gray = decode_file(pil_bytes(im, fmt)).pages[0].gray
    assert gray.dtype == np.uint8 and gray.shape == img.shape
    assert gray[2, 2] < 60 and gray[30, 30] > 180  # ink stays dark, paper stays light


def test_jpeg_exif_orientation_6_is_rotated_upright():
    stored = np.full((20, 40), 230, np.uint8)  # stored landscape, as a phone held upright saves it
    stored[:6, :6] = 0  # dark block top-left in storage
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = pil_bytes(Image.fromarray(stored), "JPEG", exif=exif, quality=95)
    gray = decode_file(data).pages[0].gray
    assert gray.shape == (40, 20)  # upright: portrait
    assert gray[:6, -6:].mean() < 40  # the block is now top-right
    assert gray[:6, :6].mean() > 200


def oriented_bytes(stored: np.ndarray, orientation: int, fmt: str) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    im = Image.fromarray(stored)
    if fmt == "TIFF":
        return pil_bytes(im, "TIFF", tiffinfo={0x0112: orientation})
    if fmt == "JPEG-CMYK":
        return pil_bytes(im.convert("CMYK"), "JPEG", exif=exif, quality=100, subsampling=0)
    if fmt == "JPEG":
        return pil_bytes(im, "JPEG", exif=exif, quality=100, subsampling=0)
    return pil_bytes(im, fmt, exif=exif)


# JPEG and PNG are decoded by OpenCV, CMYK JPEG and TIFF by Pillow: all must agree with Pillow's rule.
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "JPEG-CMYK", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow(orientation, fmt):
    data = oriented_bytes(pattern(24, 36), orientation, fmt)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    gray = decode_file(data).pages[0].gray
    assert gray.shape == expected.shape
    assert np.abs(gray.astype(int) - expected.astype(int)).max() <= 2


def test_truncation_is_caught_even_if_opencv_fills_in_the_missing_rows(monkeypatch):
    # Older OpenCV versions returned a grey-padded image for a short JPEG instead of failing.
    rng = np.random.default_rng(5)
    data = cv2.imencode(".jpg", rng.integers(0, 256, (200, 300), dtype=np.uint8))[1].tobytes()
    monkeypatch.setattr(decode.cv2, "imdecode", lambda buf, flags: np.full((200, 300), 128, np.uint8))
    assert rejected(data[: len(data) * 2 // 3]).code == "truncated"


def test_data_after_the_jpeg_end_is_fine():
    # Phone "motion photos" append a video after the JPEG's end marker.
    img = pattern()
    data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 100])[1].tobytes() + b"\x00\x00ftypmp42" + bytes(500)
    gray = decode_file(data).pages[0].gray
    assert np.abs(gray.astype(int) - img.astype(int)).max() <= 8


def test_png_without_end_chunk_but_all_pixels_is_accepted():
    img = pattern()
    data = cv2.imencode(".png", img)[1].tobytes()
    assert data.endswith(png_chunk(b"IEND", b""))
    np.testing.assert_array_equal(decode_file(data[:-12]).pages[0].gray, img)


# --- TIFF ---------------------------------------------------------------------------------------------


def test_multi_page_tiff_gives_one_page_per_frame():
    frames = [
        Image.fromarray(pattern(60, 40)),
        Image.fromarray(np.full((30, 50), 100, np.uint8)),
        Image.fromarray(np.full((10, 10, 3), 200, np.uint8), "RGB"),
    ]
    data = pil_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    decoded = decode_file(data)
    assert (decoded.kind, decoded.media_type) == ("tiff", "image/tiff")
    assert [p.index for p in decoded.pages] == [0, 1, 2]
    assert [p.gray.shape for p in decoded.pages] == [(60, 40), (30, 50), (10, 10)]
    np.testing.assert_array_equal(decoded.pages[0].gray, pattern(60, 40))
    assert (decoded.pages[1].gray == 100).all()
    assert (decoded.pages[2].gray == 200).all()


def test_tiff_page_limit():
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 20, 30)]
    data = pil_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    err = rejected(data, max_pages=2)
    assert err.code == "too_many_pages"
    assert "3 pages" in err.message


def test_tiff_pixel_limit_is_checked_per_page_before_decoding():
    frames = [Image.fromarray(np.zeros((8, 8), np.uint8)), Image.fromarray(np.zeros((100, 100), np.uint8))]
    data = pil_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    err = rejected(data, max_pixels=5000)
    assert err.code == "too_many_pixels"
    assert "Page 2" in err.message


def test_total_pixel_limit_over_all_pages():
    frames = [Image.fromarray(np.zeros((50, 50), np.uint8)) for _ in range(4)]
    data = pil_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    assert rejected(data, max_total_pixels=9999).code == "too_many_pixels"
    assert len(decode_file(data, max_total_pixels=10_000).pages) == 4


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # Pillow's own warning about the cut-off tags
@pytest.mark.parametrize("compression", [None, "tiff_deflate"])
def test_truncated_tiff(compression):
    rng = np.random.default_rng(3)
    im = Image.fromarray(rng.integers(0, 256, (200, 300), dtype=np.uint8))
    data = pil_bytes(im, "TIFF", compression=compression)
    assert rejected(data[: len(data) // 2]).code == "truncated"


# --- PDF ----------------------------------------------------------------------------------------------


def test_two_page_pdf_renders_each_page_at_300_dpi():
    def draw(c, index, size):
        c.setFillGray(0)
        c.rect(0, size[1] - 72, 72, 72, stroke=0, fill=1)  # one inch black square, top-left corner

    sizes = [A4, landscape(A5)]
    decoded = decode_file(pdf_bytes(sizes, draw))
    assert (decoded.kind, decoded.media_type) == ("pdf", "application/pdf")
    assert [p.index for p in decoded.pages] == [0, 1]
    for page, (w_pt, h_pt) in zip(decoded.pages, sizes):
        assert page.gray.dtype == np.uint8
        assert page.gray.shape == (math.ceil(h_pt * 300 / 72), math.ceil(w_pt * 300 / 72))
        assert page.gray[100:200, 100:200].max() < 30  # the square is at the top-left: not upside down
        assert page.gray[-200:-100, -200:-100].min() > 240
    assert decoded.pages[0].gray.shape == (3508, 2481)  # A4 at 300 dpi


def test_pdf_dpi_is_configurable():
    decoded = decode_file(pdf_bytes([A4]), pdf_dpi=72)
    assert decoded.pages[0].gray.shape == (math.ceil(A4[1]), math.ceil(A4[0]))


def test_pdf_page_size_is_checked_before_rendering():
    err = rejected(pdf_bytes([A4]), max_pixels=8_000_000)  # A4 at 300 dpi is 8.7 MP
    assert err.code == "too_many_pixels"
    assert "2481 x 3508" in err.message and "page" in err.message


def test_pdf_page_limit():
    err = rejected(pdf_bytes([A4, A4, A4]), max_pages=2)
    assert err.code == "too_many_pages"


def test_pdf_without_pages_written_by_pdfium():
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument.new()
        buf = io.BytesIO()
        doc.save(buf)
        doc.close()
    assert rejected(buf.getvalue()).code == "pdf_no_pages"


def test_pdf_without_pages_right_after_a_locked_pdf():
    # PDFium's last-error code is global: it must not leak from one upload into the next one's message.
    with PDFIUM_LOCK:
        doc = pdfium.PdfDocument.new()
        buf = io.BytesIO()
        doc.save(buf)
        doc.close()
    assert rejected(pdf_bytes([A4], encrypt="secret")).code == "pdf_encrypted"
    assert rejected(buf.getvalue()).code == "pdf_no_pages"
    assert rejected(pdf_bytes([A4], encrypt="secret")).code == "pdf_encrypted"
    assert len(decode_file(pdf_bytes([A4]), pdf_dpi=10).pages) == 1


def test_pdf_without_pages_minimal_bytes():
    data = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )
    err = rejected(data)
    assert err.code == "pdf_no_pages"
    assert "no pages" in err.message


def test_password_protected_pdf():
    err = rejected(pdf_bytes([A4], encrypt="secret"))
    assert err.code == "pdf_encrypted"
    assert "password" in err.message


def test_pdf_cut_in_half_is_not_reported_as_empty():
    data = pdf_bytes([A4, A4, A4])
    err = rejected(data[: len(data) // 2])
    assert err.code in ("truncated", "corrupt")


def test_corrupt_pdf():
    rng = np.random.default_rng(4)
    body = rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()
    err = rejected(b"%PDF-1.7\n" + body + b"\n%%EOF\n")
    assert err.code == "corrupt"
    assert "damaged" in err.message
