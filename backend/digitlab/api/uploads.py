"""Multipart uploads streamed to disk as they arrive: memory stays a few chunks whatever the request holds.

FastAPI's own form parsing spools each file in memory up to 1 MB before it goes to a temporary file (and
only into the system's temp folder); here each file part is written straight to a staging folder inside the
store (the same disk, so storing a checked file is a rename), hashed on the way, and cut off the moment it
passes the per-file limit, without reading the rest of the request. The request's total is capped by
digitlab.api.limits before a byte reaches this code. What was received is removed when the request ends,
unless a service adopted it into the store.

Routes declare the request body for the OpenAPI document with `multipart_body(...)`, since FastAPI does not
see a File parameter.
"""

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from digitlab.api.deps import SettingsDep, StorageDep
from digitlab.api.limits import size_text
from digitlab.core.errors import invalid, too_large, unsupported
from digitlab.core.storage import StagedFile
from digitlab.core.text import check_file_name
from digitlab.quotas import service as quotas_service

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_PART_HEADER_BYTES = 8 * 1024
MAX_OTHER_FIELDS = 16  # form fields besides the files (ignored), so a request cannot send millions of parts


class _Receiver:
    """python-multipart callbacks: file parts of `field` go to files in `folder`; other parts are dropped."""

    def __init__(self, folder: Path, field: str, max_files: int, max_file_bytes: int):
        self.folder, self.field, self.max_files, self.max_file_bytes = folder, field, max_files, max_file_bytes
        self.files: list[StagedFile] = []
        self.other_parts = 0
        self.complete = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._fd: int | None = None
        self._path: Path | None = None
        self._filename = ""
        self._size = 0
        self._hash = hashlib.sha256()

    def callbacks(self) -> "MultipartCallbacks":
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._header_name = self._header_value = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = _decode(options.get(b"name", b""))
        if name != self.field or b"filename" not in options:
            self.other_parts += 1
            if self.other_parts > MAX_OTHER_FIELDS:
                raise invalid("The upload has too many form fields.", "malformed_upload")
            return
        if len(self.files) >= self.max_files:
            raise invalid(
                f"Please upload at most {self.max_files} files at once.", "too_many_files", max_files=self.max_files
            )
        self._filename = check_file_name(_decode(options[b"filename"]))  # NUL etc. once gave a 500 on PostgreSQL
        self._fd, path = tempfile.mkstemp(dir=self.folder, prefix="upload-")
        self._path = Path(path)
        self._size = 0
        self._hash = hashlib.sha256()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._fd is None:
            return
        self._size += end - start
        if self._size > self.max_file_bytes:
            raise too_large(
                f"'{self._filename}' is larger than the limit of {size_text(self.max_file_bytes)}.",
                "file_too_large",
                filename=self._filename,
            )
        chunk = memoryview(data)[start:end]
        self._hash.update(chunk)
        while chunk:
            written = os.write(self._fd, chunk)
            chunk = chunk[written:]

    def on_part_end(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        assert self._path is not None
        self.files.append(StagedFile(self._filename, self._path, self._size, self._hash.hexdigest()))

    def on_end(self) -> None:
        self.complete = True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _decode(value: bytes) -> str:
    # Header bytes came as latin-1; browsers send UTF-8 names (as Starlette's own parser assumes).
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


async def receive_files(
    request: Request, folder: Path, *, field: str, max_files: int, max_file_bytes: int
) -> list[StagedFile]:
    """The files sent in form field `field`, each streamed into `folder`; [] for a request without a body."""
    content_type = request.headers.get("content-type")
    media_type, params = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        if (
            not content_type
            and request.headers.get("content-length", "0") == "0"
            and "transfer-encoding" not in request.headers
        ):
            return []
        raise unsupported(
            f"Please send the files as multipart/form-data, in the form field '{field}'.", "unsupported_media_type"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise invalid("The upload is not valid multipart/form-data (it has no boundary).", "malformed_upload")
    receiver = _Receiver(folder, field, max_files, max_file_bytes)
    try:
        parser = MultipartParser(boundary, receiver.callbacks(), max_header_size=MAX_PART_HEADER_BYTES)
        async for chunk in request.stream():
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except (MultipartParseError, ValueError) as exc:
        raise invalid(f"The upload is not valid multipart/form-data: {exc}.", "malformed_upload") from None
    finally:
        receiver.close()
    if not receiver.complete:
        raise invalid("The upload ended before all of it arrived. Please try again.", "malformed_upload")
    return receiver.files


def multipart_body(field: str, description: str, *, many: bool) -> dict:
    """openapi_extra for a route that receives its files through one of the dependencies below."""
    binary = {"type": "string", "format": "binary"}
    schema = {"type": "array", "items": binary, "minItems": 1} if many else binary  # none at all: 422 no_files
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [field],
                        "properties": {field: schema | {"description": description}},
                    }
                }
            },
        }
    }


def _declared_length(request: Request) -> int:
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else 0


async def _scan_files(request: Request, storage: StorageDep, settings: SettingsDep) -> AsyncIterator[list[StagedFile]]:
    quotas_service.ensure_disk(settings, storage, _declared_length(request))  # 507 before a byte is received
    with storage.staging() as folder:
        yield await receive_files(
            request,
            folder,
            field="files",
            max_files=settings.max_files_per_upload,
            max_file_bytes=settings.max_upload_bytes,
        )


async def _dataset_file(
    request: Request, storage: StorageDep, settings: SettingsDep
) -> AsyncIterator[StagedFile | None]:
    quotas_service.ensure_disk(settings, storage, _declared_length(request))
    with storage.staging() as folder:
        files = await receive_files(
            request, folder, field="file", max_files=1, max_file_bytes=settings.max_import_bytes
        )
        yield files[0] if files else None


# The files of a request, on disk in a staging folder that is removed once the route has finished.
# Declare them before any dependency that opens the database, so no connection waits for a slow upload.
ScanFiles = Annotated[list[StagedFile], Depends(_scan_files, scope="function")]
DatasetFile = Annotated[StagedFile | None, Depends(_dataset_file, scope="function")]
