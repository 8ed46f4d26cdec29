"""Reading what a page is before extracting it: a version 2 sheet (corner markers, sheet code) or a legacy grid.

    reading = read_sheet(gray)            # reading.pose: None on a legacy sheet; reading.code: the QR text or None
    extraction = extract_page(gray, labels, reading=reading)   # uses the markers when there are any

The code is returned as read, unverified: sheet_code.verify_sheet_code decides whether the server signed it.
"""

from dataclasses import dataclass, field

import numpy as np

from digitlab.pipeline.flatfield import Pyramid
from digitlab.pipeline.imageio import as_gray
from digitlab.pipeline.markers import SheetPose, find_sheet_pose
from digitlab.pipeline.sheet_code import find_code, read_code


@dataclass
class SheetReading:
    pose: SheetPose | None  # None: no corner markers found (a legacy sheet, or markers covered)
    code: str | None  # the QR code's text as read, or None (none found, unreadable, or not looked for)
    pyramid: Pyramid = field(repr=False)  # the page's halvings, reused by the extraction

    @property
    def version(self) -> int:
        """The sheet's layout version: 2 with corner markers, else 1 (the legacy plain grid)."""
        return 2 if self.pose is not None else 1


def read_sheet(gray: np.ndarray, *, read_qr: bool = True, search_whole_page: bool = False) -> SheetReading:
    """The page's pose from its corner markers and (read_qr) its code. Without markers the code is looked for
    on the whole page only with search_whole_page (a legacy page has none, and the search costs time)."""
    gray = as_gray(gray)
    pyramid = Pyramid(gray)
    pose = find_sheet_pose(gray, pyramid)
    code = None
    if read_qr and pose is not None:
        code = read_code(gray, pose)
    if read_qr and code is None and search_whole_page:
        code = find_code(gray, pyramid)
    return SheetReading(pose=pose, code=code, pyramid=pyramid)
