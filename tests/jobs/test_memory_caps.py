"""digitlab.jobs.limits: a capped job process that allocates beyond its cap fails or dies; its parent survives
and can tell the student why (issue 8, point 3)."""

import multiprocessing
import os
import signal

import pytest

from digitlab.jobs import limits

CAP_MB = 400
TOO_MUCH_MB = 1200  # touched page by page, so it really is resident (not just reserved)
_context = multiprocessing.get_context("spawn")


def _cgroup_usable() -> bool:
    group = limits.current_memory_cgroup()
    return os.geteuid() == 0 and group is not None and os.access(group, os.W_OK)


def _allocate(cap_mb: int, use_cgroup: bool, megabytes: int, queue) -> None:
    import numpy as np

    applied = limits.apply_memory_limit(cap_mb, use_cgroup=use_cgroup)
    queue.put(("applied", applied.method, str(applied.cgroup) if applied.cgroup else None))
    try:
        block = np.ones(megabytes * 1024 * 1024, dtype=np.uint8)  # np.ones writes every page
    except MemoryError:
        queue.put(("memory_error",))
        return
    queue.put(("allocated", int(block[-1])))


def _abort_after_cap(cap_mb: int, queue) -> None:
    limits.apply_memory_limit(cap_mb, use_cgroup=False)
    queue.put(("applied",))
    queue.close()
    queue.join_thread()  # flushed before the abort
    os.abort()  # what TensorFlow does on std::bad_alloc


def _run(target, *args) -> tuple[int, list]:
    queue = _context.Queue()
    process = _context.Process(target=target, args=(*args, queue))
    process.start()
    process.join(timeout=180)
    assert process.exitcode is not None, "the capped process hung"
    messages = []
    while not queue.empty():
        messages.append(queue.get(timeout=1))
    return process, messages


def test_rlimit_cap_makes_a_large_allocation_fail_and_the_parent_lives_on():
    process, messages = _run(_allocate, CAP_MB, False, TOO_MUCH_MB)
    assert messages[0][:2] == ("applied", "rlimit")
    assert messages[-1] == ("memory_error",)
    assert process.exitcode == 0
    assert limits.exit_reason(process.pid, process.exitcode) is None  # it ended normally and cleaned up


def test_rlimit_cap_leaves_room_for_allocations_under_it():
    process, messages = _run(_allocate, CAP_MB, False, 100)
    assert messages[-1] == ("allocated", 1)
    assert process.exitcode == 0


def test_a_process_that_aborts_under_an_rlimit_cap_gets_the_memory_sentence():
    process, messages = _run(_abort_after_cap, CAP_MB)
    assert messages == [("applied",)]
    assert process.exitcode == -signal.SIGABRT
    reason = limits.exit_reason(process.pid, process.exitcode)
    assert reason == limits.memory_limit_reason(CAP_MB) and reason is not None
    assert (reason.code, reason.params) == ("training_memory_limit", {"limit_mb": CAP_MB})
    assert "400 MB" in reason.sentence and "smaller batch size" in reason.sentence
    assert limits.exit_reason(process.pid, process.exitcode) is None  # the marker is gone


@pytest.mark.skipif(not _cgroup_usable(), reason="needs root and a writable cgroup v1 memory hierarchy")
def test_cgroup_cap_kills_the_process_that_goes_over_and_only_it():
    process, messages = _run(_allocate, CAP_MB, True, TOO_MUCH_MB)
    assert messages[0][:2] == ("applied", "cgroup")
    group = messages[0][2]
    assert group.endswith(f"{limits.CGROUP_PREFIX}{process.pid}")
    assert process.exitcode == -signal.SIGKILL  # the kernel's OOM killer, inside the group only
    assert os.path.isdir(group)  # left for the parent to read
    assert limits.exit_reason(process.pid, process.exitcode) == limits.memory_limit_reason(CAP_MB)
    assert not os.path.exists(group)
    assert limits.current_memory_cgroup() is not None  # and this (the parent) process is untouched


@pytest.mark.skipif(not _cgroup_usable(), reason="needs root and a writable cgroup v1 memory hierarchy")
def test_cgroup_of_a_process_that_ends_normally_is_removed():
    process, messages = _run(_allocate, CAP_MB, True, 100)
    assert messages[0][:2] == ("applied", "cgroup")
    assert messages[-1] == ("allocated", 1)
    assert process.exitcode == 0
    assert not os.path.exists(messages[0][2])
    assert limits.exit_reason(process.pid, process.exitcode) is None


def _train_under_rlimit(limit_mb: int, queue) -> None:
    import numpy as np

    from digitlab.ml import architectures, workflow
    from digitlab.ml.synthetic import make_digits

    applied = limits.apply_memory_limit(limit_mb, use_cgroup=False)
    x, y = make_digits(40, seed=3)
    outcome = workflow.fit_and_evaluate(
        x, y, [str(i) for i in range(10)], architectures.preset("cnn", 10), epochs=1, batch_size=256, seed=0
    )
    queue.put((applied.method, outcome.onnx is not None, float(np.sum(outcome.probabilities[0]))))


@pytest.mark.slow
def test_the_default_cap_as_an_rlimit_does_not_break_a_normal_training():
    """TensorFlow reserves far more address space than it uses: RLIMIT_DATA at the default cap must still let
    a whole training (fit, predictions, ONNX export) through."""
    from digitlab.core.config import Settings

    process, messages = _run(_train_under_rlimit, Settings().training_memory_limit_mb)
    assert process.exitcode == 0
    method, exported, total = messages[-1]
    assert method == "rlimit" and exported and total == pytest.approx(1.0, abs=1e-4)


def _capped_and_waiting(cap_mb: int, queue) -> None:
    import time

    applied = limits.apply_memory_limit(cap_mb)
    queue.put((applied.method, str(applied.cgroup) if applied.cgroup else None))
    time.sleep(60)


def test_what_a_stopped_process_leaves_is_swept_later(monkeypatch):
    """A job process its runner stopped (nobody asks `exit_reason`) leaves its marker and group: a later job's
    sweep removes both once they are stale."""
    queue = _context.Queue()
    process = _context.Process(target=_capped_and_waiting, args=(CAP_MB, queue))
    process.start()
    method, group = queue.get(timeout=60)
    process.terminate()
    process.join(timeout=10)
    marker = limits._marker(process.pid)
    assert marker.exists()
    limits._sweep_stale_markers(marker.parent)
    assert marker.exists()  # young: its parent may still be about to ask
    monkeypatch.setattr(limits, "STALE_SECONDS", -1)
    limits._sweep_stale_markers(marker.parent)
    assert not marker.exists()
    if group is not None:
        assert method == "cgroup" and not os.path.exists(group)


def test_no_limit_when_the_setting_is_zero():
    assert limits.apply_memory_limit(0) == limits.MemoryLimit("none", 0)


def test_an_unexplained_death_is_not_blamed_on_memory():
    assert limits.exit_reason(2**22 + 12345, -signal.SIGKILL) is None  # no marker: not a capped job
