"""The one place that imports TensorFlow/Keras — always lazily, from inside a function.

Importing TensorFlow costs ~3 s and ~600 MB and makes a process unsafe to fork, so nothing in
``digitlab.ml`` imports it at module import time; the API process never pays for it.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

_threads_configured = False

# TensorFlow's start-up lines on a machine without a GPU (TF 2.21): written by its C++ code straight to file
# descriptor 2 before its logging is set up, so TF_CPP_MIN_LOG_LEVEL does not silence them. oneDNN itself stays
# on (TF_ENABLE_ONEDNN_OPTS=0 would silence its line by switching off the faster CPU kernels).
STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog|oneDNN custom operations are on|Could not find cuda drivers"
    r"|failed call to cuInit|cpu_feature_guard|rebuild TensorFlow with the appropriate compiler flags"
    r"|Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|TF-TRT Warning"
)


@contextmanager
def _startup_noise_filtered() -> Iterator[None]:
    """Catch file descriptor 2 in a temporary file while TensorFlow loads and looks for GPUs, then pass on every
    line that is not STARTUP_NOISE: a real error printed meanwhile still reaches the log, only later."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as caught:
            os.dup2(caught.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                caught.seek(0)
                lines = caught.read().decode(errors="replace").splitlines(keepends=True)
                if kept := [line for line in lines if not STARTUP_NOISE.search(line)]:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()
    finally:
        os.close(saved)


def keras() -> ModuleType:
    """Import Keras 3 on the TensorFlow backend (quietly) and return the module."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no INFO/WARNING lines once TensorFlow's logging runs
    if "keras" not in sys.modules:
        with _startup_noise_filtered():
            import keras as keras_module
            import tensorflow as tf

            # Looks for CUDA now, inside the filter (else the first operation prints "failed call to cuInit");
            # this does not start the runtime, so configure_threads still works afterwards.
            tf.config.list_physical_devices("GPU")
    import keras as keras_module

    return keras_module


def tensorflow() -> ModuleType:
    keras()
    import tensorflow as tf

    return tf


def available_cores() -> int:
    """Cores this process may really use: its CPU affinity, capped by a cgroup v2 CPU quota (containers
    often report the host's CPU count, and TensorFlow's defaults follow that count)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def configure_threads(threads: int | None = None) -> bool:
    """Size TensorFlow's thread pools to ``threads`` (default: :func:`available_cores`), both for the
    work inside one op and for ops run side by side. On this 2-core machine that equals TensorFlow's
    defaults (measured: one inter-op thread is not faster for the MLP and slows the CNN); in a
    container whose CPU count is the host's, it avoids oversubscribing the cores the job really has.

    TensorFlow accepts this only before it has run its first op; later calls change nothing and
    return False (a fresh process per training job always gets it).
    """
    global _threads_configured
    if _threads_configured:
        return False
    tf = tensorflow()
    count = threads or available_cores()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(count)
        tf.config.threading.set_inter_op_parallelism_threads(count)
    except RuntimeError:  # the runtime is already initialised in this process
        return False
    _threads_configured = True
    return True
