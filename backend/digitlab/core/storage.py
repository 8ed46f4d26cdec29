"""Files on local disk under generated ids; every write goes to a temporary name and is renamed.

Uploads stream into a staging folder inside the store (same disk, so storing them is a rename) and are
adopted under their key once everything about them has been checked. The disk's free space is watched:
`free_bytes` for the checks before storing, `DiskReserve` so that a full disk never blocks deletions.
"""

import errno
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

STAGING_DIR = ".staging"  # under the root; never a key (keys start with a domain folder such as projects/)


@dataclass
class StagedFile:
    """An incoming file streamed to disk in a staging folder, with what was learned while it streamed."""

    filename: str  # as the client named it: shown to people, never used as a path
    path: Path
    size: int
    sha256: str


class FileStorage:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        # Keys are built by the services from ids only ("projects/12/scans/34/original"), never from
        # user input; the check guards against a programming mistake turning into a path escape.
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the root: {key!r}")
        return path

    def write(self, key: str, data: bytes) -> Path:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs (e.g. of the CLI) are meant to be shared
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_tree(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)

    def tree_bytes(self, prefix: str) -> int:
        """Bytes of all files under a prefix (0 if there is none)."""
        total = 0
        stack = [self.path(prefix)]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:  # deleted meanwhile
                    continue
        return total

    # --- staging: incoming files, on the store's disk, until they are checked ------------------------------
    @property
    def staging_root(self) -> Path:
        return self.root / STAGING_DIR

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A private folder for one request's incoming files; removed with whatever is left in it."""
        self.staging_root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.staging_root))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def adopt(self, key: str, source: Path) -> Path:
        """Store a staged file under `key`: synced to disk, then renamed into place (atomic, no copy)."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(source, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(source, 0o644)  # as write() does
        os.replace(source, target)
        return target

    def clean_staging(self, older_than_seconds: float = 3600.0) -> None:
        """Remove what requests that died (a killed server) left in staging. Another instance sharing the data
        folder may be receiving files right now: only folders older than `older_than_seconds` go."""
        if not self.staging_root.is_dir():
            return
        deadline = time.time() - older_than_seconds
        for folder in self.staging_root.iterdir():
            try:
                if folder.stat().st_mtime < deadline:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                continue


def private_dir(path: Path) -> Path:
    """Create a folder only its owner may enter (0700), or make an existing one so: the data folder holds the
    database and the students' files, which no other account on the machine may read."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.chmod(path, 0o700)
    except PermissionError:  # not ours (a mount point): leave it as its owner set it
        log.warning("cannot make %s private (owner only): not its owner", path)
    return path


def private_file(path: Path) -> Path:
    """Create a file (empty) that only its owner may read and write (0600), or make an existing one so."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return Path(path)


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on the disk holding `path`."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


class DiskReserve:
    """Space held in a file so that a full disk can still commit deletions.

    SQLite needs a little free space to commit anything, a deletion too: on a full disk, deleting answered
    "database or disk is full" and nobody could free space. The reserve is a real (allocated, not sparse)
    file in the data folder; when the disk is nearly full, a request that frees space releases it first,
    and it is taken again once there is room.
    """

    def __init__(self, path: Path, size: int):
        self.path = Path(path)
        self.size = size

    @property
    def held(self) -> bool:
        try:
            return self.size > 0 and self.path.stat().st_size >= self.size
        except FileNotFoundError:
            return False

    def low(self) -> bool:
        """Whether the disk is so full that the reserve should make way (less than its size left)."""
        return self.size > 0 and free_bytes(self.path.parent) < self.size

    def take(self) -> bool:
        """Allocate the reserve if it is missing and the disk has room for it twice over; True if held."""
        if self.size <= 0:
            return False
        if self.held:
            return True
        if free_bytes(self.path.parent) < 2 * self.size:
            return False
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _allocate(fd, self.size)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.warning("could not take the disk reserve %s: %s", self.path, exc)
            return False
        return True

    def release(self) -> bool:
        """Give the reserved space back to the disk; True if there was a reserve to give."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        log.warning(
            "the disk of %s is full: released the %d-byte reserve so that deletions can commit",
            self.path.parent,
            self.size,
        )
        return True


def _allocate(fd: int, size: int) -> None:
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    chunk = bytes(1024 * 1024)  # file systems without fallocate: write real zeros (not a sparse file)
    written = 0
    while written < size:
        written += os.write(fd, chunk[: min(len(chunk), size - written)])
