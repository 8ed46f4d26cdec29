"""The version 2 sheet's corner markers: which way up the page is, and where everything printed on it lies.

OpenCV's ArUco detector finds the four markers (a fixed small dictionary, ids in SHEET_V2.marker_ids) on a small
copy of the page. Each marker's id says which page corner it is and its own corners come in its printed order,
so a homography fitted to the markers' corners maps the sheet's millimetres to the image's pixels whichever way
the page lies: upright, turned by 90, 180 or 270 degrees, or photographed at an angle. A mirrored scan (some
scanners and document cameras flip the page) shows mirrored markers, which are not markers of the dictionary;
they are found on the image flipped back, and the homography then includes the reflection.

Everything later (the grid's corners, the QR code's square) is that homography applied to SHEET_V2's millimetres.
"""

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from digitlab.pipeline import params
from digitlab.pipeline.flatfield import Pyramid, to_full
from digitlab.pipeline.grid import detection_factor
from digitlab.pipeline.template import SHEET_V2, SheetV2Geometry


@functools.cache
def marker_dictionary() -> cv2.aruco.Dictionary:
    return cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)


@functools.cache
def _detector() -> cv2.aruco.ArucoDetector:
    parameters = cv2.aruco.DetectorParameters()
    # One adaptive threshold window instead of three: a third of the work, and markers are found as often.
    parameters.adaptiveThreshWinSizeMin = parameters.adaptiveThreshWinSizeMax = params.MARKER_THRESHOLD_WINDOW
    parameters.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX  # sub-pixel corners: a precise homography
    return cv2.aruco.ArucoDetector(marker_dictionary(), parameters)


@dataclass(frozen=True)
class SheetPose:
    """Where a version 2 sheet lies in an image: sheet millimetres -> image pixels (pixel centres integers)."""

    homography: np.ndarray  # 3 x 3
    markers_found: int  # 3 or 4 (three are enough; the fourth may be covered by a thumb or a smudge)
    mirrored: bool  # the image shows the page mirrored
    quarter_turns: int  # 0-3: the image is the page (mirrored left-right if `mirrored`), turned this many times
    #                     a quarter clockwise
    geometry: SheetV2Geometry = SHEET_V2

    def to_image(self, points_mm) -> np.ndarray:
        """(N, 2) sheet millimetres -> (N, 2) image pixels."""
        pts = np.asarray(points_mm, dtype=np.float64).reshape(-1, 1, 2)
        return cv2.perspectiveTransform(pts, self.homography).reshape(-1, 2)

    @property
    def grid_corners(self) -> np.ndarray:
        """The grid's outer corners TL, TR, BR, BL of the sheet (not of the image), in image pixels."""
        return self.to_image(self.geometry.grid_corners_mm)

    @property
    def pixels_per_mm(self) -> float:
        corners = self.grid_corners
        width = np.linalg.norm(corners[1] - corners[0]) + np.linalg.norm(corners[2] - corners[3])
        return float(width / (2 * self.geometry.grid_width_mm))


def find_sheet_pose(gray: np.ndarray, pyramid: Pyramid | None = None) -> SheetPose | None:
    """The pose of a version 2 sheet from its corner markers, or None (a legacy sheet, or markers not found).

    pyramid: the page's Pyramid when the caller has one (its small copies are reused).

    ArUco looks at every square on the page, and the grid has 600 of them, so the first search runs on a copy
    whose thin lines are closed away (a grey closing keeps the markers' 1.7 mm bits, removes 0.25 mm lines): a
    few candidates instead of hundreds. Only when that finds too few markers but the page shows marker-like
    squares (some markers found, or dark squares that did not read: a mirrored page) do the slower searches
    follow: the plain copy, then both copies flipped. A legacy page costs the first search only.
    """
    pyramid = pyramid or Pyramid(gray)
    factor = detection_factor(pyramid.level(1).shape, params.MARKER_DETECT_LONG_SIDE)
    small = pyramid.level(factor)
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, _KERNEL_3X3)
    found, rejected = _detect(closed)
    if len(found) < params.MARKER_MIN_FOUND and (found or _has_dark_squares(closed, rejected)):
        searches = [(small, False), (cv2.flip(closed, 1), True), (cv2.flip(small, 1), True)]
        if not found:  # dark squares that did not read at all: most likely a mirrored page
            searches[:2] = searches[1::-1]
        for image, mirrored in searches:
            more, _ = _detect(image)
            if mirrored:
                width = small.shape[1]
                more = {key: np.column_stack([width - 1 - pts[:, 0], pts[:, 1]]) for key, pts in more.items()}
            if len(more) > len(found):
                found = more
            if len(found) >= params.MARKER_MIN_FOUND:
                break
    if len(found) < params.MARKER_MIN_FOUND:
        return None
    return _pose(found, factor)


_KERNEL_3X3 = np.ones((3, 3), np.uint8)


def _detect(image: np.ndarray) -> tuple[dict[int, np.ndarray], list[np.ndarray]]:
    """Page corner (0-3) -> its marker's four corners (4, 2) in `image`, for the sheet's markers found once;
    and the candidate squares that did not read as markers."""
    corners, ids, rejected = _detector().detectMarkers(image)
    found: dict[int, list[np.ndarray]] = {}
    if ids is not None:
        for marker_id, points in zip(ids.ravel().tolist(), corners, strict=True):
            if marker_id in SHEET_V2.marker_ids:
                found.setdefault(SHEET_V2.marker_ids.index(marker_id), []).append(points.reshape(4, 2))
    # A corner seen twice is not our sheet's layout (two sheets in one photo, a copied marker): ignore it.
    unique = {corner: pts[0].astype(np.float64) for corner, pts in found.items() if len(pts) == 1}
    return unique, [r.reshape(4, 2) for r in rejected]


def _has_dark_squares(image: np.ndarray, candidates: list[np.ndarray]) -> bool:
    """Whether some candidates are squares and mostly dark, as markers are (~2/3 black) and empty or written cells
    are not: then markers are likely there but did not read (mirrored, or spoiled on the closed copy)."""
    if not candidates:
        return False
    for quad in candidates:
        sides = np.linalg.norm(quad - np.roll(quad, 1, axis=0), axis=1)
        if sides.min() < params.MARKER_MIN_SIDE_PX or sides.max() > params.MARKER_MAX_SKEW * sides.min():
            continue  # too small, or a long thin shape (a pen stroke) rather than a square
        if sides.max() > params.MARKER_MAX_SIDE_FRACTION * min(image.shape):
            continue  # far bigger than a marker: the whole sheet on a darker table in a photo
        x, y, w, h = cv2.boundingRect(quad.astype(np.float32))
        inner = image[y + h // 4 : y + h - h // 4, x + w // 4 : x + w - w // 4]
        # Dark against the paper around it (a marker's quiet zone), not against the whole image: on a photo the
        # table's texture makes dark squares too, and each would cost three more ArUco searches (~100 ms).
        around = image[max(y - h // 2, 0) : y + h + h // 2, max(x - w // 2, 0) : x + w + w // 2]
        paper = float(np.percentile(around, 90)) if around.size else 0.0
        if inner.size and float(inner.mean()) < params.MARKER_DARK_FRACTION * paper:
            return True
    return False


def _pose(found: dict[int, np.ndarray], factor: int) -> SheetPose | None:
    g = SHEET_V2
    src = np.array([p for corner in sorted(found) for p in g.marker_corners_mm(corner)], dtype=np.float64)
    dst = np.concatenate([to_full(found[corner], factor) for corner in sorted(found)])
    homography, _ = cv2.findHomography(src, dst, 0)
    if homography is None:
        return None
    # The markers must sit where the layout puts them: a marker-like pattern in someone's drawing does not.
    projected = cv2.perspectiveTransform(src.reshape(-1, 1, 2), homography).reshape(-1, 2)
    marker_px = np.mean([np.linalg.norm(found[c][1] - found[c][0]) for c in found]) * factor
    if np.abs(projected - dst).max() > params.MARKER_MAX_ERROR * marker_px:
        return None
    origin, x_end, y_end = cv2.perspectiveTransform(
        np.array([[[0.0, 0.0]], [[g.page_width_mm, 0.0]], [[0.0, g.page_height_mm]]]), homography
    ).reshape(3, 2)
    across, down = x_end - origin, y_end - origin
    mirrored = float(across[0] * down[1] - across[1] * down[0]) < 0
    if mirrored:  # the page was mirrored (its x axis reversed), then turned: the turn is that of -x
        across = -across
    turns = round(math.degrees(math.atan2(across[1], across[0])) / 90) % 4
    return SheetPose(homography=homography, markers_found=len(found), mirrored=mirrored, quarter_turns=turns)


def upright(image: np.ndarray, pose: SheetPose) -> np.ndarray:
    """The image turned (and flipped back) so the sheet reads upright: for previews shown to people."""
    rotations = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_CLOCKWISE}
    if pose.quarter_turns:
        image = cv2.rotate(image, rotations[pose.quarter_turns])
    return cv2.flip(image, 1) if pose.mirrored else image
