"""Job kinds by name -> the function that runs them (imported only inside the worker process)."""

import importlib
from collections.abc import Callable

JOB_FUNCTIONS = {
    "extraction": "digitlab.extraction.jobs:run_extraction",
    "training": "digitlab.training.jobs:run_training",
}


# Imported ahead by the spare worker process, so a job starts without waiting for them (TensorFlow ~3 s).
PRELOAD = ("digitlab.extraction.jobs", "digitlab.training.jobs", "digitlab.ml.train", "digitlab.ml.export")


def preload() -> None:
    for module_name in PRELOAD:
        importlib.import_module(module_name)
    from digitlab.ml import _tf

    _tf.keras()


def resolve(kind: str) -> Callable:
    module_name, _, attr = JOB_FUNCTIONS[kind].partition(":")
    return getattr(importlib.import_module(module_name), attr)
