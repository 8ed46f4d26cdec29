"""The one place that imports TensorFlow/Keras — always lazily, from inside a function.

Importing TensorFlow costs ~3 s and ~600 MB and makes a process unsafe to fork, so nothing in
``digitlab.ml`` imports it at module import time; the API process never pays for it.
"""

from __future__ import annotations

import math
import os
from types import ModuleType

_threads_configured = False


def keras() -> ModuleType:
    """Import Keras 3 on the TensorFlow backend (quietly) and return the module."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no CUDA / CPU-feature chatter
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
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]
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
