"""Geometry of the printed grid sheets, shared by the PDF generator, the extraction and the synthetic test scans.

The legacy sheet (the seed's template, version 1) is a plain 20 x 30 grid on A4; label = row // 3. Our version 1
sheet keeps that grid and only adds small text outside it, so old and new scans extract the same way.

Version 2 keeps the 20 x 30 cells and label = row // 3, a little smaller so there is room around the grid for four
ArUco corner markers (which way up the page is, even mirrored), a signed QR code (which project and page), the
nickname field and one line of instructions. Nothing is printed inside the cells.
"""

from dataclasses import dataclass

COLUMNS = 20
ROWS = 30
ROWS_PER_LABEL = 3
LABEL_COUNT = ROWS // ROWS_PER_LABEL  # 10

MM_PER_INCH = 25.4


@dataclass(frozen=True)
class SheetGeometry:
    """Positions in millimetres from the page's top-left corner."""

    page_width_mm: float = 210.0
    page_height_mm: float = 297.0
    cell_mm: float = 9.0
    grid_left_mm: float = 20.0
    grid_top_mm: float = 13.5
    line_width_mm: float = 0.25

    @property
    def grid_width_mm(self) -> float:
        return self.cell_mm * COLUMNS

    @property
    def grid_height_mm(self) -> float:
        return self.cell_mm * ROWS

    def to_pixels(self, mm: float, dpi: float) -> float:
        return mm / MM_PER_INCH * dpi


A4_SHEET = SheetGeometry()


@dataclass(frozen=True)
class SheetV2Geometry(SheetGeometry):
    """The version 2 sheet (millimetres from the page's top-left corner, like SheetGeometry)."""

    cell_mm: float = 8.0
    grid_left_mm: float = 34.0
    grid_top_mm: float = 35.0
    group_line_width_mm: float = 0.7  # the lines between groups of three rows (one label each)
    marker_mm: float = 10.0  # side of each ArUco marker, its black border included
    marker_inset_mm: float = 8.0  # from the paper's edges to the marker (printers leave ~4-6 mm blank)
    # ArUco ids (DICT_4X4_50) of the markers at the page's TL, TR, BR, BL. Chosen so that no mirror image of
    # one is within 2 bits of any marker of the dictionary: a mirrored scan never reads as an upright page.
    marker_ids: tuple[int, int, int, int] = (27, 33, 0, 4)
    qr_left_mm: float = 164.0
    qr_top_mm: float = 8.0
    qr_size_mm: float = 24.0  # the code with its quiet zone
    label_right_mm: float = 31.5  # the row labels end here, 2.5 mm clear of the grid
    header_left_mm: float = 22.0  # title, nickname field and instructions: right of the top-left marker ...
    header_right_mm: float = 160.0  # ... and left of the QR code

    def marker_origin_mm(self, corner: int) -> tuple[float, float]:
        """Top-left of the marker at page corner 0 = TL, 1 = TR, 2 = BR, 3 = BL."""
        far_x = self.page_width_mm - self.marker_inset_mm - self.marker_mm
        far_y = self.page_height_mm - self.marker_inset_mm - self.marker_mm
        return [
            (self.marker_inset_mm, self.marker_inset_mm),
            (far_x, self.marker_inset_mm),
            (far_x, far_y),
            (self.marker_inset_mm, far_y),
        ][corner]

    def marker_corners_mm(self, corner: int) -> list[tuple[float, float]]:
        """The marker's own corners TL, TR, BR, BL as printed upright (ArUco reports them in this order)."""
        x, y = self.marker_origin_mm(corner)
        m = self.marker_mm
        return [(x, y), (x + m, y), (x + m, y + m), (x, y + m)]

    @property
    def grid_corners_mm(self) -> list[tuple[float, float]]:
        """The outer grid lines' centres meet at TL, TR, BR, BL."""
        left, top = self.grid_left_mm, self.grid_top_mm
        right, bottom = left + self.grid_width_mm, top + self.grid_height_mm
        return [(left, top), (right, top), (right, bottom), (left, bottom)]


SHEET_V2 = SheetV2Geometry()


def label_for_row(labels: list[str], row: int) -> str:
    """The label written in a grid row: rows 0-2 hold labels[0], rows 3-5 labels[1], ..."""
    return labels[row // ROWS_PER_LABEL]


DIGIT_LABELS = [str(d) for d in range(LABEL_COUNT)]
