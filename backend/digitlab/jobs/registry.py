"""Job kinds by name -> the function that runs them (imported only inside the worker process), and the function
that says how big a job of that kind is (for the queue's estimates, in the API)."""

import importlib
from collections.abc import Callable

JOB_FUNCTIONS = {
    "extraction": "digitlab.extraction.jobs:run_extraction",
    "training": "digitlab.training.jobs:run_training",
    # Light: onnxruntime on stored samples, never TensorFlow.
    "other_writers": "digitlab.class_datasets.jobs:run_other_writers",
    "challenge_scoring": "digitlab.challenges.jobs:run_challenge_scoring",
    # TensorFlow (k small networks) and cleanlab: the training lane, a fresh process.
    "label_check": "digitlab.label_checks.jobs:run_label_check",
}

# kind -> f(session, jobs) -> {job id: estimates.JobSize}
JOB_SIZES = {
    "extraction": "digitlab.extraction.jobs:job_sizes",
    "training": "digitlab.training.service:job_sizes",
}

# Imported ahead by a training's spare worker process, so a job starts without waiting for them (TensorFlow ~3 s).
PRELOAD = ("digitlab.extraction.jobs", "digitlab.training.jobs", "digitlab.ml.train", "digitlab.ml.export")
# Imported once by a warm extraction process, before its first job; never TensorFlow.
WARM_PRELOAD = ("digitlab.extraction.jobs",)


def preload() -> None:
    for module_name in PRELOAD:
        importlib.import_module(module_name)
    from digitlab.ml import _tf

    _tf.keras()


def preload_warm() -> None:
    for module_name in WARM_PRELOAD:
        importlib.import_module(module_name)


def _load(reference: str) -> Callable:
    module_name, _, attr = reference.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def resolve(kind: str) -> Callable:
    return _load(JOB_FUNCTIONS[kind])


def sizer(kind: str) -> Callable | None:
    reference = JOB_SIZES.get(kind)
    return _load(reference) if reference else None
