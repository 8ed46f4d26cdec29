"""One account's data as a zip, written while it is sent (GDPR articles 15 and 20: access, portability).

The archive is produced chunk by chunk into the response: nothing is held whole in memory (rows are read a few
hundred at a time, files copied a megabyte at a time) and nothing is written to disk, so an export costs no
more than downloading the files one by one, works on a full disk, and leaves no copy of a minor's data behind
on the server. What it contains is the account's cascade closure (digitlab.privacy.cascade): exactly the rows
that deleting the account deletes, and every file of its projects.

    README.txt                      what is where (English and German)
    account.json                    the account and its classes (with when each class's data will be deleted)
    records/<table>.json            every row of the account in that table, as JSON (no password or token hashes)
    samples/<table>/<id>.png        the 28x28 samples stored in those rows (dark ink on white)
    files/projects/<id>/...         the files of each project: uploaded scans (uploads/, named by content hash,
                                    with their type's extension), rendered pages, previews and thumbnails
                                    (scans/<id>/), trained networks (trainings/<id>/model.onnx, model.keras,
                                    card.json, test_set.npz)
"""

import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Engine, LargeBinary, Table
from sqlalchemy import select as table_select
from sqlmodel import Session, col, select

from digitlab.auth.tables import User
from digitlab.classes.tables import ClassMember, SchoolClass
from digitlab.core.clock import utcnow
from digitlab.core.contract import CANVAS_SIDE
from digitlab.core.storage import FileStorage
from digitlab.pipeline.imageio import encode_png
from digitlab.privacy import cascade
from digitlab.projects import service as projects_service
from digitlab.projects.tables import Project
from digitlab.scans.tables import Scan

FILE_CHUNK = 1024 * 1024  # bytes of a file read at a time
SEND_AT = 256 * 1024  # the archive's bytes are handed to the response once this many have gathered
ROWS_AT_A_TIME = 500
SAMPLE_BYTES = CANVAS_SIDE * CANVAS_SIDE  # a stored sample: 28x28 uint8, ink bright (digitlab.core.contract)
# Kinds of files that are compressed already: stored as they are (deflating them again costs CPU for nothing).
COMPRESSED_SUFFIXES = (".png", ".jpg", ".jpeg", ".keras", ".npz", ".pdf", ".tif", ".tiff")
ORIGINAL_SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/tiff": ".tif", "application/pdf": ".pdf"}

README = """Digit Lab: everything stored about this account
=================================================

account.json            the account and its classes (when each class's data will be deleted)
records/<table>.json    every stored row of this account, table by table (password and token
                        hashes are never exported: they are not readable anyway)
samples/<table>/<id>.png  the 28x28 handwriting samples of those rows (records/cells.json has
                        their labels; "image" names the file)
files/projects/<id>/    each project's files: uploads/ the scanned pages as uploaded (named by
                        their content hash, see "sha256" in records/scans.json), scans/<id>/
                        the rendered page, preview and thumbnail, trainings/<id>/ the trained
                        network (model.onnx, model.keras), its card and its test set

Digit Lab: alles, was zu diesem Konto gespeichert ist
======================================================

account.json            das Konto und seine Klassen (wann die Daten der Klasse geloescht werden)
records/<Tabelle>.json  jede gespeicherte Zeile dieses Kontos, Tabelle fuer Tabelle (ohne
                        Passwort- und Token-Hashes)
samples/<Tabelle>/<id>.png  die 28x28 Schriftproben (Beschriftung in records/cells.json)
files/projects/<id>/    die Dateien jedes Projekts: uploads/ die hochgeladenen Scans, scans/<id>/
                        Seite, Vorschau und Miniatur, trainings/<id>/ das trainierte Netz
"""


def is_secret(column_name: str) -> bool:
    """Password, token and invitation hashes never leave the server (they are useless to anyone but a guesser)."""
    return column_name.endswith("_hash")


class _Sink(io.RawIOBase):
    """Where the zip is written: gathers its bytes until they are handed on. Not seekable, so zipfile writes
    each entry's sizes after its data (data descriptors) instead of going back to fill them in."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return data


class _Archive:
    def __init__(self) -> None:
        self.sink = _Sink()
        self.zip = zipfile.ZipFile(self.sink, "w", zipfile.ZIP_DEFLATED)
        self.stamp = utcnow().timetuple()[:6]

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_STORED if name.lower().endswith(COMPRESSED_SUFFIXES) else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def _ready(self, force: bool = False) -> Iterator[bytes]:
        if self.sink.size >= SEND_AT or (force and self.sink.size):
            yield self.sink.take()

    def entry(self, name: str, data: bytes) -> Iterator[bytes]:
        self.zip.writestr(self._info(name), data)
        yield from self._ready()

    def streamed_entry(self, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        with self.zip.open(self._info(name), "w") as member:
            for chunk in chunks:
                member.write(chunk)
                yield from self._ready()
        yield from self._ready()

    def close(self) -> Iterator[bytes]:
        self.zip.close()  # the central directory
        yield from self._ready(force=True)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _sample_name(table: Table, row_id: Any, data: bytes) -> str:
    return f"samples/{table.name}/{row_id}.{'png' if len(data) == SAMPLE_BYTES else 'bin'}"


def _sample_file(data: bytes) -> bytes:
    if len(data) != SAMPLE_BYTES:
        return data
    return encode_png(255 - np.frombuffer(data, np.uint8).reshape(CANVAS_SIDE, CANVAS_SIDE))


def _rows(session: Session, table: Table, condition: ColumnElement[bool], columns=None) -> Iterator[Any]:
    query = table_select(*(columns or [table])).where(condition).order_by(*table.primary_key.columns)
    yield from session.connection().execute(query.execution_options(yield_per=ROWS_AT_A_TIME))


def _record_lines(session: Session, table: Table, condition: ColumnElement[bool]) -> Iterator[bytes]:
    """The table's rows of the account as a JSON array, one row per line; binary columns name their file."""
    binary = {c.name for c in table.columns if isinstance(c.type, LargeBinary)}
    key = next(iter(table.primary_key.columns)).name
    yield b"["
    separator = b"\n"
    for row in _rows(session, table, condition):
        record = {}
        for name, value in row._mapping.items():
            if is_secret(name):
                continue
            if name in binary and value is not None:
                value = _sample_name(table, row._mapping[key], value)
            record[name] = _json_value(value)
        yield separator + json.dumps(record, ensure_ascii=False, default=str).encode()
        separator = b",\n"
    yield b"\n]\n"


def _account(session: Session, user_id: int) -> dict:
    user = session.get(User, user_id)
    assert user is not None
    memberships = session.exec(
        select(ClassMember, SchoolClass)
        .join(SchoolClass, col(SchoolClass.id) == ClassMember.class_id)
        .where(ClassMember.user_id == user_id)
        .order_by(col(ClassMember.id))
    ).all()
    return {
        "exported_at": utcnow().isoformat(),
        "account": {k: _json_value(v) for k, v in user.model_dump().items() if not is_secret(k)},
        "classes": [
            {
                "class_id": school_class.id,
                "class_name": school_class.name,
                "role": member.role,
                "writer_number": member.writer_number,
                "joined_at": _json_value(member.joined_at),
                "account_made_for_class": member.account_made_for_class,
                "class_data_deleted_after": _json_value(school_class.delete_after),
            }
            for member, school_class in memberships
        ],
    }


def _project_files(storage: FileStorage, session: Session, project_id: int) -> Iterator[tuple[str, Path]]:
    """(name in the archive, path) of every file of the project, uploaded originals with their extension."""
    prefix = projects_service.files_prefix(project_id)
    root = storage.path(prefix)
    if not root.is_dir():
        return
    suffixes = {
        sha: ORIGINAL_SUFFIXES.get(media_type, "")
        for sha, media_type in session.exec(
            select(Scan.sha256, Scan.media_type).where(Scan.project_id == project_id)
        ).all()
    }
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")):
        relative = path.relative_to(root)
        name = f"files/{prefix}/{relative.as_posix()}"
        if relative.parts[0] == "uploads":
            name += suffixes.get(relative.name, "")
        yield name, path


def export_archive(engine: Engine, storage: FileStorage, user_id: int) -> Iterator[bytes]:
    """The zip of everything of the account, as the chunks of bytes to send."""
    users = cascade.table_named(User.__tablename__)
    closure = cascade.cascade_closure(users, users.c.id == user_id)
    archive = _Archive()
    with Session(engine) as session:
        yield from archive.entry("README.txt", README.encode())
        account = json.dumps(_account(session, user_id), indent=1, ensure_ascii=False).encode()
        yield from archive.entry("account.json", account)
        tables = [table for table in cascade.all_tables() if table in closure]
        for table in tables:
            yield from archive.streamed_entry(
                f"records/{table.name}.json", _record_lines(session, table, closure[table])
            )
        for table in tables:
            key = next(iter(table.primary_key.columns))
            for column in (c for c in table.columns if isinstance(c.type, LargeBinary)):
                for row_id, data in _rows(session, table, closure[table] & column.is_not(None), [key, column]):
                    yield from archive.entry(_sample_name(table, row_id, data), _sample_file(data))
        projects = cascade.table_named(Project.__tablename__)
        project_ids = table_select(projects.c.id).where(closure[projects]).order_by(projects.c.id)
        for (project_id,) in session.connection().execute(project_ids).all():
            for name, path in _project_files(storage, session, project_id):
                try:
                    handle = open(path, "rb")  # noqa: SIM115 (closed below; opened before its entry is started)
                except FileNotFoundError:  # deleted while the export ran (the student deleted a scan)
                    continue
                with handle:
                    yield from archive.streamed_entry(name, iter(partial(handle.read, FILE_CHUNK), b""))
    yield from archive.close()
