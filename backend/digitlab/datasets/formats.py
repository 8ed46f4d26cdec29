"""Reading and writing dataset files: Keras-style mnist.npz and a zip of `<label>_<n>.png`.

Arrays follow MNIST: uint8 28x28, 0 = background, 255 = ink. No web or database code here.

Reading is bounded before anything is unpacked: the zip's own directory record says how many entries it
lists and where its directory lies; the entries are counted there (by their signatures, C speed, so a
directory that lies about its count is caught too) and the declared sizes are summed, and a zip over the
limits is refused without Python ever building its entry list (1,000,000 empty entries: milliseconds).
Arrays are checked from their .npy headers (dtype, shape) before their data is read, then read and
converted a block of samples at a time. A damaged entry (bad CRC, corrupt deflate data, cut off) is a
DatasetFileError like every other unreadable file.
"""

import io
import json
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote

import cv2
import numpy as np

from digitlab.core.contract import CANVAS_SIDE as SIDE
from digitlab.pipeline import normalize_sample
from digitlab.pipeline.decode import ImageRejected, decode_file

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


@dataclass(frozen=True)
class ReadLimits:
    max_samples: int
    max_unpacked_bytes: int  # all entries together, as their directory declares (zipfile enforces it on read)
    max_entries: int
    max_entry_bytes: int  # one image of a zip of PNGs


# Average bytes one entry may take in the zip's directory (46 fixed + name + extras): caps the directory
# that Python's zipfile reads whole into memory.
MAX_DIRECTORY_BYTES_PER_ENTRY = 300
BLOCK_SAMPLES = 2048  # samples converted at a time when reading an array
# Entries whose data cannot be read raise these (bad CRC and broken headers: BadZipFile; corrupt deflate
# data: zlib.error; cut off: EOFError; encrypted or unknown compression: RuntimeError/NotImplementedError).
_BROKEN_ENTRY = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    struct.error,
)


def read_dataset_file(source: bytes | str | Path, label_names: list[str], limits: ReadLimits) -> Samples:
    """An mnist.npz or a zip of PNGs (bytes or a path), told apart by content (an .npz is a zip of .npy files)."""
    with _opened(source) as handle:
        check_zip_directory(handle, limits)
        try:
            archive = zipfile.ZipFile(handle)
        except _BROKEN_ENTRY:
            raise DatasetFileError("This file is damaged: its list of contents cannot be read.") from None
        with archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > limits.max_unpacked_bytes:  # a zip bomb never gets unpacked
                limit_mb = limits.max_unpacked_bytes // (1024 * 1024)
                raise DatasetFileError(f"The file unpacks to more than {limit_mb} MB.")
            if infos and all(info.filename.endswith(".npy") for info in infos):
                return _read_npz_archive(archive, label_names, limits.max_samples)
            return _read_zip_archive(archive, label_names, limits)


@contextmanager
def _opened(source: bytes | str | Path) -> Iterator[IO[bytes]]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(source)
    else:
        with open(source, "rb") as handle:
            yield handle


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record (22 bytes + comment)
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes, right before the EOCD
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # 56 bytes
_CENTRAL_ENTRY = b"PK\x01\x02"


def check_zip_directory(handle: IO[bytes], limits: ReadLimits) -> None:
    """Refuse a file that is no zip, or whose directory lists more entries than allowed, from the directory
    record and a count of the directory's entry signatures: no entry list is built, nothing is unpacked."""
    not_a_dataset = DatasetFileError("Please upload an mnist.npz file or a .zip of PNG images.")
    size = handle.seek(0, io.SEEK_END)
    tail_length = min(size, _EOCD.size + 0xFFFF + _ZIP64_LOCATOR.size)
    handle.seek(size - tail_length)
    tail = handle.read(tail_length)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + _EOCD.size > len(tail):
        raise not_a_dataset
    _, _, _, _, entries, directory_size, _, _ = _EOCD.unpack_from(tail, at)
    directory_end = size - tail_length + at
    locator = at - _ZIP64_LOCATOR.size
    if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
        _, _, record_offset, _ = _ZIP64_LOCATOR.unpack_from(tail, locator)
        handle.seek(record_offset)
        record = handle.read(_ZIP64_EOCD.size)
        if len(record) != _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
            raise DatasetFileError("This zip file is damaged: its list of contents cannot be read.")
        fields = _ZIP64_EOCD.unpack(record)
        entries, directory_size = fields[7], fields[8]
        directory_end = record_offset
    too_many = DatasetFileError(
        f"The zip lists more than {limits.max_entries} entries; at most {limits.max_entries} are allowed."
    )
    if entries > limits.max_entries:
        raise too_many
    if directory_size > max(limits.max_entries, 1) * MAX_DIRECTORY_BYTES_PER_ENTRY:
        raise DatasetFileError("The zip's list of contents is too large.")
    start = directory_end - directory_size
    if start < 0:
        raise DatasetFileError("This zip file is damaged: its list of contents cannot be read.")
    # Count the entries actually there (the record may lie): every entry starts with its signature.
    handle.seek(start)
    found, carry, left = 0, b"", directory_size
    while left > 0:
        block = handle.read(min(left, 1024 * 1024))
        if not block:
            break
        left -= len(block)
        found += (carry + block).count(_CENTRAL_ENTRY)
        carry = block[-3:]  # a signature split across two blocks is counted once: carry holds < 4 bytes
        if found > limits.max_entries:
            raise too_many
    handle.seek(0)


def _read_exactly(member: IO[bytes], size: int, what: str) -> bytes:
    data = member.read(size)
    if len(data) != size:
        raise DatasetFileError(f"{what} is cut off: the file holds less data than its header says.")
    return data


def read_npz(data: bytes, label_names: list[str], max_samples: int) -> Samples:
    """An mnist.npz given as bytes (the CLI): the same checks as an import, with only a sample limit."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return _read_npz_archive(archive, label_names, max_samples)


@dataclass(frozen=True)
class _NpyHeader:
    name: str
    shape: tuple
    fortran_order: bool
    dtype: np.dtype


def _skip_npy_header(member: IO[bytes]) -> tuple:
    """Read an .npy header: (shape, fortran_order, dtype); the member is left at the start of the data."""
    version = np.lib.format.read_magic(member)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read_header(member)


def _npy_header(archive: zipfile.ZipFile, key: str, max_samples: int) -> _NpyHeader:
    """An array's header (shape, dtype), refused if it claims more than we accept, before any data is read."""
    name = key + ".npy"
    try:
        with archive.open(name) as member:
            shape, fortran_order, dtype = _skip_npy_header(member)
    except (zipfile.BadZipFile, zlib.error, EOFError):  # a small entry is unpacked (and its CRC checked) at once
        raise _damaged(key) from None
    except Exception:  # noqa: BLE001 - any unreadable header is a broken file
        raise DatasetFileError(f"{key} is not a readable array.") from None
    if dtype.hasobject:
        raise DatasetFileError(f"{key} must be a plain number array.")
    if shape and shape[0] > max_samples:
        raise DatasetFileError(f"{key} holds {shape[0]} samples; at most {max_samples} are allowed.")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize > max_samples * SIDE * SIDE * 8:
        raise DatasetFileError(f"{key} is larger than any dataset we accept.")
    return _NpyHeader(name, tuple(shape), fortran_order, dtype)


# What an array's dtype must be (numpy's dtype.kind), and the words for everything else.
_PIXEL_KINDS = "uif"  # unsigned and signed integers, floats
_LABEL_KINDS = "ui"
_KIND_NAMES = {
    "b": "true/false values",
    "c": "complex numbers",
    "U": "text",
    "S": "text (bytes)",
    "M": "dates",
    "m": "time spans",
    "V": "records (a structured array)",
    "O": "Python objects",
}


def _check_kind(header: _NpyHeader, key: str, allowed: str, wanted: str) -> None:
    kind = "V" if header.dtype.names is not None else header.dtype.kind
    if kind not in allowed:
        raise DatasetFileError(f"{key} holds {_KIND_NAMES.get(kind, str(header.dtype))}; it must hold {wanted}.")


def _array_blocks(archive: zipfile.ZipFile, header: _NpyHeader, key: str) -> Iterator[tuple[int, np.ndarray]]:
    """(first index, block) over an array's first axis, BLOCK_SAMPLES samples at a time, read as it unpacks."""
    count = header.shape[0] if header.shape else 0
    per_item = int(np.prod(header.shape[1:], dtype=np.int64)) if len(header.shape) > 1 else 1
    try:
        with archive.open(header.name) as member:
            _skip_npy_header(member)
            if header.fortran_order:  # column-major: only whole (bounded by the size checks above)
                data = _read_exactly(member, count * per_item * header.dtype.itemsize, key)
                whole = np.frombuffer(data, header.dtype).reshape(header.shape[::-1]).transpose()
                for first in range(0, count, BLOCK_SAMPLES):
                    yield first, whole[first : first + BLOCK_SAMPLES]
                return
            for first in range(0, count, BLOCK_SAMPLES):
                n = min(BLOCK_SAMPLES, count - first)
                data = _read_exactly(member, n * per_item * header.dtype.itemsize, key)
                yield first, np.frombuffer(data, header.dtype).reshape((n, *header.shape[1:]))
            member.read(1)  # to the end: zipfile checks the entry's CRC there
    except DatasetFileError:
        raise
    except _BROKEN_ENTRY:
        raise _damaged(key) from None


def _damaged(key: str) -> DatasetFileError:
    return DatasetFileError(
        f"{key} is damaged: its data does not match its checksum or cannot be unpacked. "
        "Please save or export the file again."
    )


def _read_labels(archive: zipfile.ZipFile, header: _NpyHeader, key: str) -> np.ndarray:
    blocks = [block for _, block in _array_blocks(archive, header, key)]
    return np.concatenate(blocks).astype(np.int64) if blocks else np.zeros(0, np.int64)


def _read_pixels(archive: zipfile.ZipFile, header: _NpyHeader, key: str) -> np.ndarray:
    """The images as uint8 (ink = 255): integers must be 0..255, floats finite and 0..255 or 0..1."""
    count = header.shape[0]
    out = np.empty((count, SIDE, SIDE), np.uint8)
    scale = 1.0
    floating = header.dtype.kind == "f"
    if floating:  # first pass: the range decides the scale (0..1 data is multiplied by 255)
        top = 0.0
        for _, block in _array_blocks(archive, header, key):
            if not np.isfinite(block).all():
                raise DatasetFileError(
                    f"{key} holds NaN or infinite values; pixels must be numbers from 0 to 255 (or 0 to 1)."
                )
            if block.size:
                _check_range(key, float(block.min()), float(block.max()))
                top = max(top, float(block.max()))
        scale = 255.0 if top <= 1.0 else 1.0
    for first, block in _array_blocks(archive, header, key):
        if floating:
            out[first : first + len(block)] = np.clip(np.rint(block.astype(np.float64) * scale), 0, 255)
        else:
            if block.size:
                _check_range(key, int(block.min()), int(block.max()))
            out[first : first + len(block)] = block
    return out


def _check_range(key: str, low: float, high: float) -> None:
    if low < 0 or high > 255:
        raise DatasetFileError(
            f"{key} holds values from {low:g} to {high:g}; pixels must be from 0 to 255 (or 0 to 1)."
        )


def _read_npz_archive(archive: zipfile.ZipFile, label_names: list[str], max_samples: int) -> Samples:
    keys = {info.filename.removesuffix(".npy") for info in archive.infolist()}
    if not {"x_train", "y_train"} <= keys:
        raise DatasetFileError("An mnist.npz needs the arrays x_train and y_train (and optionally x_test, y_test).")
    parts = [("x_train", "y_train")] + ([("x_test", "y_test")] if "x_test" in keys else [])
    headers: list[tuple[str, _NpyHeader, str, _NpyHeader]] = []
    total = 0
    for x_key, y_key in parts:  # every header checked before any data is read
        if y_key not in keys:
            raise DatasetFileError(f"{x_key} is there but {y_key} is missing.")
        x, y = _npy_header(archive, x_key, max_samples), _npy_header(archive, y_key, max_samples)
        _check_kind(x, x_key, _PIXEL_KINDS, "pixel values (whole or decimal numbers)")
        if len(x.shape) != 3 or x.shape[1:] != (SIDE, SIDE):
            raise DatasetFileError(f"{x_key} must have the shape (N, {SIDE}, {SIDE}); it has {x.shape}.")
        _check_kind(y, y_key, _LABEL_KINDS, "whole numbers (label indices)")
        if len(y.shape) != 1 or y.shape[0] != x.shape[0]:
            raise DatasetFileError(f"{y_key} must hold one label per image of {x_key}.")
        total += x.shape[0]
        if total > max_samples:
            raise DatasetFileError(f"The file holds more than {max_samples} samples.")
        headers.append((x_key, x, y_key, y))
    images, labels = [], []
    for x_key, x, y_key, y in headers:
        values = _read_labels(archive, y, y_key)
        if len(values) and (values.min() < 0 or values.max() >= len(label_names)):
            bad = int(values.min()) if values.min() < 0 else int(values.max())
            raise DatasetFileError(
                f"{y_key} holds label {bad}, but the project has labels 0 to {len(label_names) - 1}."
            )
        images.append(_read_pixels(archive, x, x_key))
        labels += [label_names[int(v)] for v in values]
    return Samples(np.concatenate(images) if images else np.zeros((0, SIDE, SIDE), np.uint8), labels)


def _read_zip_archive(archive: zipfile.ZipFile, label_names: list[str], limits: ReadLimits) -> Samples:
    members = [
        (info, match)
        for info in archive.infolist()
        if not info.is_dir() and (match := ZIP_NAME.match(info.filename)) and not _is_system_file(info.filename)
    ]
    if not members:
        raise DatasetFileError("The zip holds no images named like '<label>_<number>.png' (e.g. 7_12.png).")
    if len(members) > limits.max_samples:
        raise DatasetFileError(f"The zip holds more than {limits.max_samples} images.")
    images = np.empty((len(members), SIDE, SIDE), np.uint8)
    labels = []
    for i, (info, match) in enumerate(members):
        label = file_part_to_label(match["label"])
        if label not in label_names:
            raise DatasetFileError(
                f"'{info.filename}' has the label '{label}', which is not one of this "
                f"project's labels ({', '.join(label_names)})."
            )
        if info.file_size > limits.max_entry_bytes:
            raise DatasetFileError(
                f"'{info.filename}' unpacks to more than "
                f"{limits.max_entry_bytes // (1024 * 1024)} MB; a sample image is far smaller."
            )
        try:
            with archive.open(info) as member:
                data = member.read(limits.max_entry_bytes + 1)
        except _BROKEN_ENTRY:
            raise DatasetFileError(
                f"'{info.filename}' is damaged in the zip: its data does not match its checksum "
                "or cannot be unpacked. Please make the zip again."
            ) from None
        try:
            page = decode_file(data, max_pixels=MAX_ZIP_MEMBER_PIXELS, max_pages=1).pages[0]
        except ImageRejected as exc:
            raise DatasetFileError(f"'{info.filename}': {exc.message}") from None
        images[i] = image_to_sample(page.gray)
        labels.append(label)
    return Samples(images, labels)


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
    np.savez_compressed(
        buffer,
        x_train=images[~is_test],
        y_train=label_indices[~is_test].astype(np.uint8),
        x_test=images[is_test],
        y_test=label_indices[is_test].astype(np.uint8),
        labels=np.array(label_names),
    )
    return buffer.getvalue()


def write_zip(images: np.ndarray, labels: list[str]) -> bytes:
    buffer = io.BytesIO()
    counters: dict[str, int] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for image, label in zip(images, labels, strict=True):
            n = counters.get(label, 0)
            counters[label] = n + 1
            _ok, png = cv2.imencode(".png", image)
            archive.writestr(f"{label_to_file_part(label)}_{n}.png", png.tobytes())
    return buffer.getvalue()


def stratified_test_mask(label_indices: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Which samples go to the test part: the same fraction of every label, reproducible from the seed."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(label_indices), dtype=bool)
    for value in np.unique(label_indices):
        members = np.flatnonzero(label_indices == value)
        rng.shuffle(members)
        mask[members[: round(len(members) * test_fraction)]] = True
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
            raise DatasetFileError(f"{relative} is not a {SIDE}x{SIDE} image.")
        images[i] = image
    return images, np.array([index[label] for _, label in kept], dtype=np.int64), labels
