"""Memory caps for job processes, so that one training can never take the machine (issue 8, point 3).

The service refuses trainings whose estimated memory is over `max_training_memory_mb` before anything runs
(digitlab.ml.architectures.check_training_memory). This module is the second line: a training job's process
caps itself at `training_memory_limit_mb`, so a wrong estimate costs that one job, never the machine.

- `apply_memory_limit(limit_mb)` runs once in the job's own process (a fresh process per training), before
  the work starts, or once in a warm extraction process before its first job (its cap then holds for every job
  it takes: a page that needs more ends that process, and the pool starts another). As root with a writable
  cgroup v1 memory hierarchy, it moves the process into a new child of its current memory cgroup,
  `digitlab-job-<pid>`, limited so that the process's whole resident memory
  stays under the cap (the memory it already had stays charged where it was: the cap of the new group is
  the limit minus the process's resident size now). The kernel then kills the process (SIGKILL) when it goes
  over. Otherwise it sets RLIMIT_DATA (private writable memory, which is what numpy and TensorFlow allocate;
  RLIMIT_AS would also count TensorFlow's large reserved but unused address space, which grows with the batch
  size: a CNN at batch 4,096 maps 5 GB to use 2 GB). Over that limit, allocations fail: MemoryError in
  Python, and TensorFlow aborts (SIGABRT) on std::bad_alloc.
- `exit_reason(pid, exitcode)` is for the parent, after the process died: the job's reason (a code with the
  limit, and a sentence for the student; a jobs.reason.Reason) if the cap ended it, else None. It also removes
  what `apply_memory_limit` left behind (the cgroup, a marker file: a process that ends normally removes them
  itself; those of processes nobody asked about are swept by a later job after STALE_SECONDS).
- `memory_limit_reason(limit_mb, purpose)` is that reason (for a training or an extraction), also used by a
  job that catches its own MemoryError; `memory_limit_message` its sentence.

Linux only; elsewhere the limit is not applied (and reported as such).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import resource
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from digitlab.jobs.reason import Reason

log = logging.getLogger(__name__)

CGROUP_V1_MEMORY = Path("/sys/fs/cgroup/memory")
CGROUP_PREFIX = "digitlab-job-"
MIN_GROUP_LIMIT_MB = 64  # a process already over its cap still gets a group it can start to free memory in
STALE_SECONDS = 600  # groups and markers of dead processes nobody reaped are removed after this long
_MB = 1024 * 1024


TRAINING, EXTRACTION = "training", "extraction"  # what a capped process runs: says which sentence fits


@dataclass(frozen=True)
class MemoryLimit:
    """What `apply_memory_limit` did: method "cgroup", "rlimit" or "none"."""

    method: str
    limit_mb: int
    cgroup: Path | None = None
    purpose: str = TRAINING


def memory_limit_message(limit_mb: int, purpose: str = TRAINING) -> str:
    if purpose == EXTRACTION:
        return (
            f"This page needs more memory than the extraction limit of {limit_mb:,} MB allows. "
            "Scan it again with fewer pixels (300 dpi is plenty) and upload it again."
        )
    return (
        f"This network needs more memory than the training limit of {limit_mb:,} MB allows. "
        "Try a smaller batch size, or fewer filters or units."
    )


MEMORY_LIMIT_CODES = {TRAINING: "training_memory_limit", EXTRACTION: "extraction_memory_limit"}


def memory_limit_reason(limit_mb: int, purpose: str = TRAINING) -> Reason:
    """Why a job whose process went over its memory cap failed: a code by purpose, with the limit in MB."""
    code = MEMORY_LIMIT_CODES.get(purpose, "training_memory_limit")
    return Reason(code, memory_limit_message(limit_mb, purpose), {"limit_mb": limit_mb})


def _marker_dir() -> Path:
    return Path(tempfile.gettempdir()) / "digitlab-memory-limits"


def _marker(pid: int) -> Path:
    return _marker_dir() / f"{pid}.json"


def resident_mb() -> int:
    """This process's resident memory now (MB), 0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def current_memory_cgroup(root: Path = CGROUP_V1_MEMORY) -> Path | None:
    """This process's cgroup v1 memory group as a directory under `root`, or None (no v1 memory hierarchy)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return root / path.lstrip("/")
    return None


def apply_memory_limit(
    limit_mb: int, *, use_cgroup: bool = True, cgroup_root: Path = CGROUP_V1_MEMORY, purpose: str = TRAINING
) -> MemoryLimit:
    """Cap this process (and anything it starts) at `limit_mb` MB; 0 or less means no cap. Call it once, in a
    job process (a training's, which serves one job and exits; a warm extraction process, before its first job).
    Never raises: a cap that cannot be set is logged and reported."""
    if limit_mb <= 0 or not hasattr(resource, "RLIMIT_DATA"):
        return MemoryLimit("none", 0)
    applied = None
    if use_cgroup:
        try:
            applied = _apply_cgroup(limit_mb, cgroup_root)
        except OSError as exc:
            log.info("no memory cgroup for this job (%s); using RLIMIT_DATA", exc)
    if applied is None:
        try:
            applied = _apply_rlimit(limit_mb)
        except (OSError, ValueError) as exc:
            log.warning("could not cap this job's memory at %s MB: %s", limit_mb, exc)
            return MemoryLimit("none", 0)
    applied = MemoryLimit(applied.method, applied.limit_mb, applied.cgroup, purpose)
    global _applied
    _applied = applied
    try:
        _write_marker(applied)
    except OSError:  # only the parent's explanation of a kill is lost, not the cap
        log.warning("could not record this job's memory limit", exc_info=True)
    atexit.register(_clean_up_at_exit, applied, os.getpid())
    log.info("job process %s capped at %s MB (%s)", os.getpid(), limit_mb, applied.method)
    return applied


_applied: MemoryLimit | None = None  # this process's cap, once set


def current_limit() -> MemoryLimit | None:
    """The cap `apply_memory_limit` set in this process (None: none)."""
    return _applied


def _clean_up_at_exit(applied: MemoryLimit, pid: int) -> None:
    """A process that ends normally removes its own group and marker (a killed one leaves them for
    `exit_reason` in its parent, or for the sweep of a later job)."""
    if os.getpid() != pid:  # a forked child inherited the handler
        return
    if applied.cgroup is not None:
        with contextlib.suppress(OSError):
            (applied.cgroup.parent / "cgroup.procs").write_text(str(pid))  # a group with a process cannot go
            applied.cgroup.rmdir()
    _marker(pid).unlink(missing_ok=True)


def _apply_cgroup(limit_mb: int, root: Path) -> MemoryLimit:
    if os.geteuid() != 0:
        raise PermissionError("not running as root")
    parent = current_memory_cgroup(root)
    if parent is None or not (parent / "cgroup.procs").exists():
        raise FileNotFoundError(f"no cgroup v1 memory hierarchy at {root}")
    if parent.name.startswith(CGROUP_PREFIX):
        raise FileExistsError("this process is already in a job's memory cgroup")
    _sweep_stale_groups(parent)
    group = parent / f"{CGROUP_PREFIX}{os.getpid()}"
    if group.exists():  # left by an earlier process with this pid
        group.rmdir()
    group.mkdir()
    try:
        group_limit = max(MIN_GROUP_LIMIT_MB, limit_mb - resident_mb()) * _MB
        (group / "memory.limit_in_bytes").write_text(str(group_limit))
        swap = group / "memory.memsw.limit_in_bytes"
        if swap.exists():  # memory + swap: the cap cannot be dodged by swapping
            swap.write_text(str(group_limit))
        (group / "cgroup.procs").write_text(str(os.getpid()))
        if current_memory_cgroup(root) != group:
            raise OSError(f"the process did not move into {group}")
    except OSError:
        with contextlib.suppress(OSError):
            group.rmdir()
        raise
    return MemoryLimit("cgroup", limit_mb, group)


def _apply_rlimit(limit_mb: int) -> MemoryLimit:
    limit = limit_mb * _MB
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return MemoryLimit("rlimit", limit_mb)


def _write_marker(applied: MemoryLimit) -> None:
    directory = _marker_dir()
    directory.mkdir(mode=0o700, exist_ok=True)
    if directory.stat().st_uid != os.geteuid():  # someone else's folder in the shared temp: not ours to trust
        raise PermissionError(f"{directory} belongs to another user")
    _sweep_stale_markers(directory)
    _marker(os.getpid()).write_text(
        json.dumps(
            {
                "method": applied.method,
                "limit_mb": applied.limit_mb,
                "cgroup": str(applied.cgroup) if applied.cgroup else None,
                "purpose": applied.purpose,
            }
        )
    )


def running(pid: int) -> bool:
    """Whether process `pid` still runs: it exists and has not ended (an ended process that its parent has not
    reaped yet, a zombie, has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X", "x")


def _stale(path: Path, pid_text: str) -> bool:
    """A group or marker of a dead process that its parent has not reaped for STALE_SECONDS (the parent
    reads it right after the process ends; a younger one may still be waiting for that)."""
    if not pid_text.isdigit() or running(int(pid_text)):
        return False
    try:
        return time.time() - path.stat().st_mtime > STALE_SECONDS
    except OSError:
        return False


def _sweep_stale_groups(parent: Path) -> None:
    """Remove the groups of dead job processes: at once when no parent will ask about them any more (their
    marker is gone: a process stopped by its runner, a parent that already asked), else once stale."""
    for group in parent.glob(f"{CGROUP_PREFIX}*"):
        pid = group.name.removeprefix(CGROUP_PREFIX)
        if not group.is_dir() or not pid.isdigit() or running(int(pid)):
            continue
        if not _marker(int(pid)).exists() or _stale(group, pid):
            with contextlib.suppress(OSError):  # fails (and stays) while any process is still in it
                group.rmdir()


def _sweep_stale_markers(directory: Path) -> None:
    """Markers (and their groups, wherever they are) of dead processes nobody asked about."""
    for marker in directory.glob("*.json"):
        if _stale(marker, marker.stem):
            with contextlib.suppress(OSError, ValueError, TypeError):
                group = json.loads(marker.read_text()).get("cgroup")
                if group and Path(group).name.startswith(CGROUP_PREFIX):
                    Path(group).rmdir()
            marker.unlink(missing_ok=True)


def _oom_kills(group: Path) -> int:
    try:
        for line in (group / "memory.oom_control").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return int((group / "memory.failcnt").read_text())  # older kernels: the cap was hit at least
    except (OSError, ValueError):
        return 0


def exit_reason(pid: int, exitcode: int | None) -> Reason | None:
    """After the process `pid` ended: the job's reason if its memory cap ended it, else None. Removes
    its cgroup and marker either way (call it once per ended job process; harmless for any other)."""
    marker = _marker(pid)
    try:
        if marker.parent.stat().st_uid != os.geteuid():
            return None
        record = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    marker.unlink(missing_ok=True)
    killed = False
    if record.get("cgroup") and Path(record["cgroup"]).name == f"{CGROUP_PREFIX}{pid}":
        group = Path(record["cgroup"])
        killed = exitcode == -signal.SIGKILL and _oom_kills(group) > 0
        try:
            group.rmdir()
        except OSError:
            log.warning("could not remove the memory cgroup %s", group, exc_info=True)
    elif record.get("method") == "rlimit":
        # Over RLIMIT_DATA, TensorFlow's allocations throw std::bad_alloc and the process aborts.
        killed = exitcode in (-signal.SIGABRT, -signal.SIGKILL, -signal.SIGSEGV)
    return memory_limit_reason(int(record.get("limit_mb", 0)), record.get("purpose", TRAINING)) if killed else None
