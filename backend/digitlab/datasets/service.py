"""A project's dataset: every included cell of every scan, plus imported samples."""

import base64

import numpy as np
from sqlalchemy import func, insert
from sqlmodel import Session, select

from digitlab.api.errors import ApiError, invalid, not_found
from digitlab.core.config import Settings
from digitlab.datasets import formats
from digitlab.datasets.models import Cell
from digitlab.datasets.schemas import CellFilter, CellPage, CellPublic, CellUpdate, DatasetSummary, ImportResult, LabelCount
from digitlab.pipeline import sprite_sheet
from digitlab.pipeline.imageio import encode_png
from digitlab.projects.models import Project

SIDE = formats.SIDE


def cell_array(cell: Cell) -> np.ndarray:
    return np.frombuffer(cell.image, dtype=np.uint8).reshape(SIDE, SIDE)


def cell_png(cell: Cell) -> bytes:
    """For people: dark ink on white paper (the stored sample is MNIST-style, ink bright)."""
    if cell.image is None:
        raise not_found("Image")
    return encode_png(255 - cell_array(cell))


def summary(session: Session, project: Project) -> DatasetSummary:
    rows = session.exec(select(Cell.label, Cell.status, Cell.included, func.count())
                        .where(Cell.project_id == project.id)
                        .group_by(Cell.label, Cell.status, Cell.included)).all()
    counts = {label: LabelCount(label=label, index=i, included=0, excluded=0, rejected=0)
              for i, label in enumerate(project.labels)}
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
    return DatasetSummary(project_id=project.id, total=sum(c.included for c in counts.values()),
                          labels=list(counts.values()))


def _filtered(project: Project, label: str | None, which: CellFilter):
    query = select(Cell).where(Cell.project_id == project.id)
    if label is not None:
        query = query.where(Cell.label == label)
    if which == "included":
        query = query.where(Cell.included)
    elif which == "excluded":
        query = query.where(~Cell.included, Cell.status == "kept")
    elif which in ("rejected", "blank"):
        query = query.where(~Cell.included, Cell.status == which)
    return query


def list_cells(session: Session, project: Project, label: str | None, which: CellFilter,
               offset: int, limit: int) -> CellPage:
    if label is not None and label not in project.labels:
        raise invalid(f"'{label}' is not one of this project's labels.", "unknown_label")
    query = _filtered(project, label, which)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    cells = session.exec(query.order_by(Cell.id).offset(offset).limit(limit)).all()
    return CellPage(total=total, offset=offset, limit=limit, items=[to_public(cell) for cell in cells])


def to_public(cell: Cell) -> CellPublic:
    image = None
    if cell.image is not None:
        image = "data:image/png;base64," + base64.b64encode(cell_png(cell)).decode()
    return CellPublic(**cell.model_dump(exclude={"image", "project_id", "split_hint"}), image=image)


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
    session.add(cell)
    session.commit()
    session.refresh(cell)
    return cell


def label_sheet(session: Session, project: Project, label_index: int, columns: int, limit: int) -> bytes:
    if not 0 <= label_index < len(project.labels):
        raise not_found("Label")
    query = (select(Cell.image).where(Cell.project_id == project.id, Cell.included,
                                      Cell.label == project.labels[label_index])
             .order_by(Cell.id).limit(limit))
    images = [np.frombuffer(data, dtype=np.uint8).reshape(SIDE, SIDE) for data in session.exec(query)]
    return encode_png(sprite_sheet(images, columns=columns))


def import_file(session: Session, settings: Settings, project: Project, data: bytes) -> ImportResult:
    if len(data) > settings.max_import_bytes:
        raise ApiError(413, f"The file is larger than {settings.max_import_bytes // (1024 * 1024)} MB.",
                       "file_too_large")
    try:
        samples = formats.read_dataset_file(data, project.labels, settings.max_import_samples,
                                            settings.max_import_bytes)
    except formats.DatasetFileError as exc:
        raise invalid(str(exc), "bad_dataset_file") from None
    rows = [dict(project_id=project.id, source="import", label=label, original_label=label, status="kept",
                 included=True, split_hint=split, image=image.tobytes())
            for image, label, split in zip(samples.images, samples.labels, samples.split, strict=True)]
    if rows:
        session.exec(insert(Cell), params=rows)
        session.commit()
    per_label = {label: samples.labels.count(label) for label in project.labels if label in samples.labels}
    return ImportResult(imported=len(rows), per_label=per_label)


def export(session: Session, project: Project, fmt: str, test_fraction: float, seed: int) -> bytes:
    cells = session.exec(select(Cell.image, Cell.label).where(Cell.project_id == project.id, Cell.included)
                         .order_by(Cell.id)).all()
    if not cells:
        raise invalid("The dataset is empty: extract some scans or import samples first.", "empty_dataset")
    images = np.stack([np.frombuffer(image, dtype=np.uint8).reshape(SIDE, SIDE) for image, _ in cells])
    labels = [label for _, label in cells]
    if fmt == "zip":
        return formats.write_zip(images, labels)
    index = {label: i for i, label in enumerate(project.labels)}
    label_indices = np.array([index[label] for label in labels], dtype=np.int64)
    is_test = formats.stratified_test_mask(label_indices, test_fraction, seed)
    return formats.write_npz(images, label_indices, is_test, project.labels)
