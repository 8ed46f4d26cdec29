"""Reading and writing dataset files: Keras-style mnist.npz and a zip of `<label>_<n>.png`.

Arrays follow MNIST: uint8 28x28, 0 = background, 255 = ink. No web or database code here.
"""

import io
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import unquote
from dataclasses import dataclass

import cv2
import numpy as np

from digitlab.pipeline import normalize_sample
from digitlab.pipeline.decode import ImageRejected, decode_file

SIDE = 28
ZIP_NAME = re.compile(r"^(?:.*/)?(?P<label>[^/]+)_(?P<n>\d+)\.png$", re.IGNORECASE)
MAX_ZIP_MEMBER_PIXELS = 4_000_000
# Characters Windows refuses in file names, written as %XX in exported names (and "%" itself).
ESCAPED_IN_FILE_NAMES = set(':*?"<>|%')


def label_to_file_part(label: str) -> str:
    return "".join(f"%{ord(ch):02X}" if ch in ESCAPED_IN_FILE_NAMES else ch for ch in label)


def file_part_to_label(part: str) -> str:
    return unquote(part)


class DatasetFileError(ValueError):
    """The file cannot be imported; the message says why in words a student understands."""


@dataclass
class Samples:
    images: np.ndarray  # (N, 28, 28) uint8, ink = 255
    labels: list[str]
    split: list[str | None]  # "train" | "test" | None


def read_dataset_file(data: bytes, label_names: list[str], max_samples: int, max_unpacked_bytes: int) -> Samples:
    """An mnist.npz or a zip of PNGs, told apart by content (an .npz is a zip of .npy files)."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile:
        raise DatasetFileError("Please upload an mnist.npz file or a .zip of PNG images.") from None
    if sum(info.file_size for info in infos) > max_unpacked_bytes:  # a zip bomb never gets unpacked
        raise DatasetFileError(f"The file unpacks to more than {max_unpacked_bytes // (1024 * 1024)} MB.")
    if infos and all(info.filename.endswith(".npy") for info in infos):
        return read_npz(data, label_names, max_samples)
    return read_zip(data, label_names, max_samples)


def read_npz(data: bytes, label_names: list[str], max_samples: int) -> Samples:
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)  # never unpickle user data
    except Exception:  # noqa: BLE001 - numpy raises many kinds for a broken file
        raise DatasetFileError("This is not a readable .npz file.") from None
    keys = set(archive.files)
    if not {"x_train", "y_train"} <= keys:
        raise DatasetFileError("An mnist.npz needs the arrays x_train and y_train (and optionally x_test, y_test).")
    parts = [("train", "x_train", "y_train")] + ([("test", "x_test", "y_test")] if "x_test" in keys else [])
    images, labels, split = [], [], []
    for name, x_key, y_key in parts:
        if y_key not in keys:
            raise DatasetFileError(f"{x_key} is there but {y_key} is missing.")
        for key in (x_key, y_key):
            _check_npy_header(archive, key, max_samples)
        try:
            x, y = archive[x_key], archive[y_key]
        except (ValueError, EOFError, OSError):  # object arrays would need unpickling, which we never do
            raise DatasetFileError(f"{x_key} and {y_key} must be plain number arrays.") from None
        if x.ndim != 3 or x.shape[1:] != (SIDE, SIDE):
            raise DatasetFileError(f"{x_key} must have the shape (N, 28, 28); it has {x.shape}.")
        if y.ndim != 1 or len(y) != len(x):
            raise DatasetFileError(f"{y_key} must hold one label per image of {x_key}.")
        if not np.issubdtype(y.dtype, np.integer):
            raise DatasetFileError(f"{y_key} must hold whole numbers (label indices).")
        if len(y) and (y.min() < 0 or y.max() >= len(label_names)):
            bad = int(y.min()) if y.min() < 0 else int(y.max())
            raise DatasetFileError(f"{y_key} holds label {bad}, but the project has labels 0 to "
                                   f"{len(label_names) - 1}.")
        images.append(_to_uint8(x))
        labels += [label_names[int(v)] for v in y]
        split += [name] * len(y)
        if len(labels) > max_samples:
            raise DatasetFileError(f"The file holds more than {max_samples} samples.")
    return Samples(np.concatenate(images) if images else np.zeros((0, SIDE, SIDE), np.uint8), labels, split)


def _check_npy_header(archive, key: str, max_samples: int) -> None:  # noqa: ANN001
    """Refuse arrays whose header claims more than we accept, before numpy allocates that much."""
    try:
        with archive.zip.open(key + ".npy") as member:
            version = np.lib.format.read_magic(member)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(member)
    except Exception:  # noqa: BLE001 - any unreadable header is a broken file
        raise DatasetFileError(f"{key} is not a readable array.") from None
    if dtype.hasobject:
        raise DatasetFileError(f"{key} must be a plain number array.")
    if shape and shape[0] > max_samples:
        raise DatasetFileError(f"{key} holds {shape[0]} samples; at most {max_samples} are allowed.")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize > max_samples * SIDE * SIDE * 8:
        raise DatasetFileError(f"{key} is larger than any dataset we accept.")


def _to_uint8(x: np.ndarray) -> np.ndarray:
    if np.issubdtype(x.dtype, np.floating) and x.size and x.max() <= 1.0:
        x = x * 255.0  # float data scaled to 0..1
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def read_zip(data: bytes, label_names: list[str], max_samples: int) -> Samples:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DatasetFileError("This is not a readable .zip file.") from None
    members = [info for info in archive.infolist()
               if not info.is_dir() and ZIP_NAME.match(info.filename) and not _is_system_file(info.filename)]
    if not members:
        raise DatasetFileError("The zip holds no images named like '<label>_<number>.png' (e.g. 7_12.png).")
    if len(members) > max_samples:
        raise DatasetFileError(f"The zip holds more than {max_samples} images.")
    images, labels = [], []
    for info in members:
        label = file_part_to_label(ZIP_NAME.match(info.filename)["label"])
        if label not in label_names:
            raise DatasetFileError(f"'{info.filename}' has the label '{label}', which is not one of this "
                                   f"project's labels ({', '.join(label_names)}).")
        try:
            page = decode_file(archive.read(info), max_pixels=MAX_ZIP_MEMBER_PIXELS, max_pages=1).pages[0]
        except ImageRejected as exc:
            raise DatasetFileError(f"'{info.filename}': {exc.message}") from None
        images.append(image_to_sample(page.gray))
        labels.append(label)
    return Samples(np.stack(images), labels, [None] * len(labels))


def _is_system_file(name: str) -> bool:
    # macOS Finder adds __MACOSX/._<name> resource forks to every zip it makes.
    parts = name.split("/")
    return "__MACOSX" in parts or parts[-1].startswith(".")


def image_to_ink(gray: np.ndarray) -> np.ndarray:
    """A grayscale image of one character -> ink intensity in [0, 1] (the contract's input)."""
    # Decide the polarity from the border: paper-white borders mean dark ink that must be inverted.
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = gray if border.mean() < 128 else 255 - gray
    return ink.astype(np.float32) / 255.0


def image_to_sample(gray: np.ndarray) -> np.ndarray:
    """A grayscale PNG of one character -> MNIST-style 28x28 (ink = 255); 28x28 images are taken as they are."""
    ink = image_to_ink(gray)
    if ink.shape == (SIDE, SIDE):
        return np.round(ink * 255).astype(np.uint8)
    return np.round(normalize_sample(ink) * 255).astype(np.uint8)


def write_npz(images: np.ndarray, label_indices: np.ndarray, is_test: np.ndarray, label_names: list[str]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=images[~is_test], y_train=label_indices[~is_test].astype(np.uint8),
                        x_test=images[is_test], y_test=label_indices[is_test].astype(np.uint8),
                        labels=np.array(label_names))
    return buffer.getvalue()


def write_zip(images: np.ndarray, labels: list[str]) -> bytes:
    buffer = io.BytesIO()
    counters: dict[str, int] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for image, label in zip(images, labels, strict=True):
            n = counters.get(label, 0)
            counters[label] = n + 1
            ok, png = cv2.imencode(".png", image)
            archive.writestr(f"{label_to_file_part(label)}_{n}.png", png.tobytes())
    return buffer.getvalue()


def stratified_test_mask(label_indices: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Which samples go to the test part: the same fraction of every label, reproducible from the seed."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(label_indices), dtype=bool)
    for value in np.unique(label_indices):
        members = np.flatnonzero(label_indices == value)
        rng.shuffle(members)
        mask[members[: int(round(len(members) * test_fraction))]] = True
    return mask


def read_dataset_path(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A dataset on disk for the CLI: a folder written by `digitlab extract` or an mnist.npz.

    Returns (images uint8 (N, 28, 28) with ink = 255, label indices, label names).
    """
    path = Path(path)
    if path.name == "manifest.json":
        path = path.parent
    if path.is_dir():
        return _read_extract_folder(path)
    data = path.read_bytes()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DatasetFileError(f"{path} is neither a `digitlab extract` folder nor an mnist.npz.")
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        if not {"x_train", "y_train"} <= set(archive.files):
            raise DatasetFileError("An mnist.npz needs the arrays x_train and y_train (and optionally x_test, y_test).")
        names = [str(v) for v in archive["labels"]] if "labels" in archive.files else None
        y_max = max(int(archive[key].max(initial=0)) for key in ("y_train", "y_test") if key in archive.files)
    labels = names or [str(i) for i in range(y_max + 1)]
    samples = read_npz(data, labels, max_samples=10_000_000)
    index = {label: i for i, label in enumerate(labels)}
    return samples.images, np.array([index[label] for label in samples.labels], dtype=np.int64), labels


def _read_extract_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise DatasetFileError(f"{folder} has no manifest.json (write one with `digitlab extract`).")
    manifest = json.loads(manifest_path.read_text())
    by_row: dict[int, str] = {}
    kept: list[tuple[str, str]] = []
    for page in manifest["pages"]:
        for cell in page["cells"]:
            by_row.setdefault(cell["row"], cell["label"])
            if cell["kept"] and cell["image"]:
                kept.append((cell["image"], cell["label"]))
    labels = list(dict.fromkeys(by_row[row] for row in sorted(by_row)))  # sheet order, each label once
    index = {label: i for i, label in enumerate(labels)}
    images = np.zeros((len(kept), SIDE, SIDE), dtype=np.uint8)
    for i, (relative, _) in enumerate(kept):
        image = cv2.imread(str(folder / relative), cv2.IMREAD_GRAYSCALE)
        if image is None or image.shape != (SIDE, SIDE):
            raise DatasetFileError(f"{relative} is not a 28x28 image.")
        images[i] = image
    return images, np.array([index[label] for _, label in kept], dtype=np.int64), labels
