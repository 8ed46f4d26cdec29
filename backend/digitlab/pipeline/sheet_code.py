"""The version 2 sheet's code: which project and which page a sheet is, signed by the server, printed as a QR code.

The text is short and holds no name: "DL2:<project id>:<page number>:<signature>", where the signature is the
first 80 bits of HMAC-SHA256(server key, "DL2:<project id>:<page number>") in base32 (upper case and digits,
so the whole text fits QR's dense alphanumeric mode). Without the server's key nobody can make a code that
routes a page into a project: a made-up code, or a real one with its project or page changed, is refused.

Reading: with the page's pose (markers.py) the code's square is warped upright and read there; without it the
whole page is searched (slower; for pages whose markers are not found, e.g. in a teacher's bulk upload).
"""

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

from digitlab.pipeline import params
from digitlab.pipeline.flatfield import Pyramid
from digitlab.pipeline.grid import detection_factor
from digitlab.pipeline.markers import SheetPose

CODE_PREFIX = "DL2"
SIGNATURE_CHARS = 16  # base32 characters: 80 bits
MAX_PROJECT_ID = 2**31 - 1
MAX_PAGE = 9999
_CODE = re.compile(rf"^{CODE_PREFIX}:([1-9][0-9]{{0,9}}):([1-9][0-9]{{0,3}}):([A-Z2-7]{{{SIGNATURE_CHARS}}})$")


@dataclass(frozen=True)
class SheetCode:
    project_id: int
    page: int


class SheetCodeRefused(Exception):
    """A code that is not a valid Digit Lab sheet code; `code` is a machine word, `reason` a sentence."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _signature(key: bytes, project_id: int, page: int) -> str:
    digest = hmac.new(key, f"{CODE_PREFIX}:{project_id}:{page}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:SIGNATURE_CHARS]


def make_sheet_code(key: bytes, project_id: int, page: int) -> str:
    """The text to print in the QR code of `project_id`'s sheet number `page`."""
    if not key:
        raise ValueError("the signing key must not be empty")
    if not 1 <= project_id <= MAX_PROJECT_ID or not 1 <= page <= MAX_PAGE:
        raise ValueError("project id or page number out of range")
    return f"{CODE_PREFIX}:{project_id}:{page}:{_signature(key, project_id, page)}"


def verify_sheet_code(key: bytes, text: str) -> SheetCode:
    """The project and page a code names, if the server signed it; raises SheetCodeRefused otherwise."""
    match = _CODE.match(text.strip())
    if match is None:
        raise SheetCodeRefused("not_a_sheet_code", "The code on this page is not a Digit Lab sheet code.")
    project_id, page, signature = int(match[1]), int(match[2]), match[3]
    if project_id > MAX_PROJECT_ID or not hmac.compare_digest(signature, _signature(key, project_id, page)):
        raise SheetCodeRefused(
            "forged_code", "The code on this page was not printed by this Digit Lab (it is made up or altered)."
        )
    return SheetCode(project_id, page)


def read_code(gray: np.ndarray, pose: SheetPose) -> str | None:
    """The QR code's text on a version 2 sheet whose pose is known, or None when it cannot be read."""
    g = pose.geometry
    margin, scale = params.QR_MARGIN_MM, params.QR_PX_PER_MM
    side = round((g.qr_size_mm + 2 * margin) * scale)
    # crop pixel -> sheet mm -> image pixel, used as warpPerspective's inverse map: turns and mirror undo themselves
    offset = 0.5 / scale  # crop pixel centres sit half a pixel into each pixel's millimetre square
    crop_to_mm = np.array(
        [[1 / scale, 0, g.qr_left_mm - margin + offset], [0, 1 / scale, g.qr_top_mm - margin + offset], [0, 0, 1]]
    )
    crop = cv2.warpPerspective(
        gray, pose.homography @ crop_to_mm, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=255
    )
    return _decode(crop)


def find_code(gray: np.ndarray, pyramid: Pyramid | None = None) -> str | None:
    """Search the whole page for a QR code (no pose: markers not found); None when there is none readable."""
    pyramid = pyramid or Pyramid(gray)
    small = pyramid.level(detection_factor(pyramid.level(1).shape, params.QR_SEARCH_LONG_SIDE))
    return _decode(small)


_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _decode(image: np.ndarray) -> str | None:
    """zxing-cpp, not OpenCV's QRCodeDetector: OpenCV left about 1 in 70 of our crisp, upright codes unread
    (it depends on the code's pattern), zxing-cpp read all of them, and it reads mirrored codes too."""
    found = zxingcpp.read_barcode(image, formats=_QR_ONLY)
    return found.text if found is not None and found.valid and found.text else None
