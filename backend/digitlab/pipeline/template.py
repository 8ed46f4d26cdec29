"""Geometry of the printed grid sheet, shared by the PDF generator and the synthetic test scans.

The legacy sheet (the seed's template) is a plain 20 x 30 grid on A4; label = row // 3. Our sheet keeps that
grid and only adds small text outside it, so old and new scans extract the same way.
"""

from dataclasses import dataclass

COLUMNS = 20
ROWS = 30
ROWS_PER_LABEL = 3
LABEL_COUNT = ROWS // ROWS_PER_LABEL  # 10
CELLS_PER_PAGE = COLUMNS * ROWS  # 600

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


def label_for_row(labels: list[str], row: int) -> str:
    """The label written in a grid row: rows 0-2 hold labels[0], rows 3-5 labels[1], ..."""
    return labels[row // ROWS_PER_LABEL]


DIGIT_LABELS = [str(d) for d in range(LABEL_COUNT)]
