"""A project's dataset: every included cell of every scan, plus imported samples."""

import base64
import hashlib
import json

import numpy as np
from sqlalchemy import func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from digitlab.core.clock import utcnow
from digitlab.core.config import Settings
from digitlab.core.contract import CANVAS_SIDE
from digitlab.core.db import release_connection, stored_id
from digitlab.core.errors import conflict, invalid, not_found, too_large
from digitlab.core.storage import FileStorage, StagedFile
from digitlab.datasets import formats
from digitlab.datasets.schemas import (
    CellFilter,
    CellPage,
    CellPublic,
    CellUpdate,
    DatasetSummary,
    ImportResult,
    LabelCount,
)
from digitlab.datasets.tables import Cell, DatasetImport
from digitlab.pipeline import sprite_sheet
from digitlab.pipeline.imageio import encode_png
from digitlab.projects.tables import Project
from digitlab.quotas import service as quotas_service


def image_array(image: bytes | None) -> np.ndarray:
    """A stored sample as a 28x28 array. Only blank cells have no image (and they are never included)."""
    if image is None:
        raise not_found("Image")
    return np.frombuffer(image, dtype=np.uint8).reshape(CANVAS_SIDE, CANVAS_SIDE)


def cell_array(cell: Cell) -> np.ndarray:
    return image_array(cell.image)


def cell_png(cell: Cell) -> bytes:
    """For people: dark ink on white paper (the stored sample is MNIST-style, ink bright)."""
    return encode_png(255 - cell_array(cell))


def summary(session: Session, project: Project) -> DatasetSummary:
    rows = session.exec(
        select(Cell.label, Cell.status, Cell.included, func.count())
        .where(Cell.project_id == project.id)
        .group_by(col(Cell.label), col(Cell.status), col(Cell.included))
    ).all()
    counts = {
        label: LabelCount(label=label, index=i, included=0, excluded=0, rejected=0)
        for i, label in enumerate(project.labels)
    }
    for label, status, included, count in rows:
        entry = counts.get(label)
        if entry is None:
            continue
        if included:
            entry.included += count
        elif status == "kept":
            entry.excluded += count
        elif status == "rejected":
            entry.rejected += count
    return DatasetSummary(
        project_id=project.id, total=sum(c.included for c in counts.values()), labels=list(counts.values())
    )


def _filtered(project: Project, label: str | None, which: CellFilter):
    query = select(Cell).where(Cell.project_id == project.id)
    if label is not None:
        query = query.where(Cell.label == label)
    if which == "included":
        query = query.where(col(Cell.included))
    elif which == "excluded":
        query = query.where(~col(Cell.included), Cell.status == "kept")
    elif which in ("rejected", "blank"):
        query = query.where(~col(Cell.included), Cell.status == which)
    return query


def list_cells(
    session: Session,
    project: Project,
    label: str | None,
    which: CellFilter,
    offset: int,
    limit: int,
    scan_id: int | None = None,
) -> CellPage:
    if label is not None and label not in project.labels:
        raise invalid(f"'{label}' is not one of this project's labels.", "unknown_label")
    query = _filtered(project, label, which)
    if scan_id is not None:  # one page's cells: why each was kept or dropped (the scans screen)
        query = query.where(Cell.scan_id == scan_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    cells = session.exec(query.order_by(col(Cell.id)).offset(offset).limit(limit)).all()
    return CellPage(total=total, offset=offset, limit=limit, items=[to_public(cell) for cell in cells])


def to_public(cell: Cell) -> CellPublic:
    image = None
    if cell.image is not None:
        image = "data:image/png;base64," + base64.b64encode(cell_png(cell)).decode()
    return CellPublic(**cell.model_dump(exclude={"image", "project_id"}), image=image)


def get_cell(session: Session, project: Project, cell_id: int) -> Cell:
    cell = session.get(Cell, cell_id)
    if cell is None or cell.project_id != project.id:
        raise not_found("Sample")
    return cell


def update_cell(session: Session, project: Project, cell: Cell, body: CellUpdate) -> Cell:
    if body.label is not None:
        if body.label not in project.labels:
            raise invalid(f"'{body.label}' is not one of this project's labels.", "unknown_label")
        cell.label = body.label
    if body.included is not None:
        if body.included and cell.image is None:
            raise invalid("This cell is empty, so there is nothing to include.", "empty_cell")
        cell.included = body.included
    # The project changed: its teachers' live roster notices it by this (and shows it as the last activity).
    project.updated_at = utcnow()
    session.add_all([cell, project])
    session.flush()
    return cell


def label_sheet(session: Session, project: Project, label_index: int, columns: int, limit: int) -> bytes:
    if not 0 <= label_index < len(project.labels):
        raise not_found("Label")
    query = (
        select(Cell.image)
        .where(Cell.project_id == project.id, col(Cell.included), Cell.label == project.labels[label_index])
        .order_by(col(Cell.id))
        .limit(limit)
    )
    images = [image_array(data) for data in session.exec(query)]
    return encode_png(sprite_sheet(images, columns=columns))


INSERT_BATCH = 5000  # imported samples inserted per statement (the rows of a batch are the only copy in memory)


def content_sha256(samples: formats.Samples) -> str:
    """The identity of a data set: its images and labels in order (not the file's bytes)."""
    digest = hashlib.sha256(np.ascontiguousarray(samples.images, dtype=np.uint8).data)
    digest.update(json.dumps(samples.labels).encode())
    return digest.hexdigest()


def import_file(
    session: Session, storage: FileStorage, settings: Settings, project: Project, file: StagedFile | None
) -> ImportResult:
    """Add the samples of an mnist.npz or a zip of PNGs (already on disk in staging), all or none; the same
    data set is imported into a project once."""
    if file is None:
        raise invalid(
            "Please choose an mnist.npz file or a .zip of PNG images to import (form field 'file').", "no_file"
        )
    if file.size > settings.max_import_bytes:
        raise too_large(f"The file is larger than {settings.max_import_bytes // (1024 * 1024)} MB.", "file_too_large")
    limits = formats.ReadLimits(
        max_samples=settings.max_import_samples,
        max_unpacked_bytes=settings.max_import_unpacked_bytes,
        max_entries=settings.max_import_entries,
        max_entry_bytes=settings.max_import_entry_bytes,
    )
    release_connection(session)  # reading a big file is a while of CPU without the database
    try:
        samples = formats.read_dataset_file(file.path, project.labels, limits)
    except formats.DatasetFileError as exc:
        raise invalid(str(exc), "bad_dataset_file") from None
    if not samples.labels:
        raise invalid("The file holds no samples.", "bad_dataset_file")
    digest = content_sha256(samples)
    existing = session.exec(
        select(DatasetImport).where(DatasetImport.project_id == project.id, DatasetImport.content_sha256 == digest)
    ).first()
    if existing is not None:
        raise conflict(
            f"This data set was already imported into this project (from '{existing.filename}', "
            f"{existing.sample_count} samples). Importing it again would only add copies.",
            "duplicate_import",
            existing_import_id=existing.id,
        )
    quotas_service.ensure_room(
        session, storage, settings, project.owner_id, len(samples.labels) * quotas_service.CELL_BYTES
    )
    session.add(
        DatasetImport(
            project_id=stored_id(project),
            content_sha256=digest,
            filename=file.filename[:255],
            sample_count=len(samples.labels),
        )
    )
    try:
        session.flush()
    except IntegrityError:  # the same data set, imported by a request racing with this one
        raise conflict(
            "This data set was just imported into this project by another request.", "duplicate_import"
        ) from None
    for first in range(0, len(samples.labels), INSERT_BATCH):
        rows = [
            {
                "project_id": project.id,
                "source": "import",
                "label": label,
                "original_label": label,
                "status": "kept",
                "included": True,
                "image": image.tobytes(),
            }
            for image, label in zip(
                samples.images[first : first + INSERT_BATCH], samples.labels[first : first + INSERT_BATCH], strict=True
            )
        ]
        session.exec(insert(Cell), params=rows)
    per_label = {label: samples.labels.count(label) for label in project.labels if label in samples.labels}
    return ImportResult(imported=len(samples.labels), per_label=per_label)


def export(session: Session, project: Project, fmt: str, test_fraction: float, seed: int) -> bytes:
    cells = session.exec(
        select(Cell.image, Cell.label).where(Cell.project_id == project.id, col(Cell.included)).order_by(col(Cell.id))
    ).all()
    if not cells:
        raise invalid("The dataset is empty: extract some scans or import samples first.", "empty_dataset")
    images = np.stack([image_array(image) for image, _ in cells])
    labels = [label for _, label in cells]
    if fmt == "zip":
        return formats.write_zip(images, labels)
    index = {label: i for i, label in enumerate(project.labels)}
    label_indices = np.array([index[label] for label in labels], dtype=np.int64)
    is_test = formats.stratified_test_mask(label_indices, test_fraction, seed)
    return formats.write_npz(images, label_indices, is_test, project.labels)
