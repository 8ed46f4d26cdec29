"""Decoding a large JPEG at reduced scale for the extraction (decode.py's reduce_to_long_side, issue 12 "Speed")."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from digitlab.pipeline.decode import ImageRejected, decode_file, jpeg_reduction, open_file
from digitlab.pipeline.flatfield import to_full


def page_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Paper with dark strokes and a dark block at the top left (asymmetric, so orientation shows)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width), 235, np.uint8)
    for _ in range(40):
        p, q = rng.integers(0, [width, height], 2), rng.integers(0, [width, height], 2)
        cv2.line(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), 30, 3)
    img[: height // 5, : width // 5] = 10
    return img


def jpeg_bytes(img: np.ndarray, orientation: int = 1, cmyk: bool = False) -> bytes:
    im = Image.fromarray(img)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    (im.convert("CMYK") if cmyk else im).save(buf, "JPEG", exif=exif, quality=95)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("size", "long_side", "factor"),
    [
        ((2480, 3508), 1750, 2),  # A4 at 300 dpi: read at 150 dpi
        ((2481, 3507), 1750, 2),  # libjpeg rounds up: 1754 px
        ((4961, 7016), 1750, 4),  # 600 dpi
        ((9922, 14032), 1750, 8),
        ((1654, 2339), 1750, 1),  # 200 dpi: whole
        ((3024, 4032), 1750, 2),  # a 12-megapixel phone photo
        ((3508, 2480), 1750, 2),  # landscape: the long side counts
        ((2480, 3508), None, 1),  # no reduction asked for
    ],
)
def test_the_factor_keeps_the_long_side(size, long_side, factor):
    assert jpeg_reduction(size, long_side) == factor


def test_a_large_jpeg_is_decoded_at_reduced_scale():
    img = page_like(1201, 803)
    data = jpeg_bytes(img)
    page = decode_file(data, reduce_to_long_side=300).pages[0]
    assert page.scale == 4 and page.gray.shape == (301, 201)  # ceil(1201 / 4) x ceil(803 / 4)
    assert page.gray.dtype == np.uint8 and page.gray.flags.writeable
    # The same page as decoded whole and averaged (the DCT's scaling is an average over blocks, up to ringing).
    full = decode_file(data).pages[0]
    assert full.scale == 1 and full.gray.shape == img.shape
    averaged = cv2.resize(full.gray[:1200, :800], (200, 300), interpolation=cv2.INTER_AREA)
    assert np.abs(page.gray[:300, :200].astype(int) - averaged.astype(int)).mean() < 4
    # A point of the reduced page maps to the same place on the full one (the dark block's corner).
    edge = int(np.argmax(page.gray[150, :] > 128))
    assert to_full(np.array([edge, 150.0]), 4)[0] == pytest.approx(int(np.argmax(full.gray[601, :] > 128)), abs=3)


def test_only_jpeg_is_reduced():
    img = page_like(400, 300)
    png = cv2.imencode(".png", img)[1].tobytes()
    page = decode_file(png, reduce_to_long_side=100).pages[0]
    assert page.scale == 1 and page.gray.shape == img.shape
    small = decode_file(jpeg_bytes(img), reduce_to_long_side=401).pages[0]  # reducing would go below: whole
    assert small.scale == 1 and small.gray.shape == img.shape
    with open_file(jpeg_bytes(img), reduce_to_long_side=150) as opened:
        assert opened.sizes == [(300, 400)]  # sizes stay the file's own
        assert opened.page(0).scale == 2


# Gray and colour JPEG go through OpenCV, CMYK JPEG through Pillow (draft): both reduce, and both turn the page
# upright from its EXIF orientation exactly as at full size.
@pytest.mark.parametrize("cmyk", [False, True], ids=["opencv", "pillow"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_reduced_pages_are_turned_upright(orientation, cmyk):
    data = jpeg_bytes(page_like(240, 160, seed=orientation), orientation, cmyk)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("L"))
    page = decode_file(data, reduce_to_long_side=120).pages[0]
    assert page.scale == 2
    assert page.gray.shape == (upright.shape[0] // 2, upright.shape[1] // 2)
    expected = cv2.resize(upright, page.gray.shape[::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(page.gray.astype(int) - expected.astype(int)).mean() < 6


def test_a_truncated_jpeg_is_still_refused_at_reduced_scale():
    data = jpeg_bytes(page_like(800, 600))
    with pytest.raises(ImageRejected) as info:
        decode_file(data[: len(data) * 2 // 3], reduce_to_long_side=200)
    assert info.value.code == "truncated"
