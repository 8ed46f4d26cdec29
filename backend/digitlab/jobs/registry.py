"""Job kinds by name -> the function that runs them (imported only inside the worker process)."""

import importlib
from collections.abc import Callable

JOB_FUNCTIONS = {
    "extraction": "digitlab.extraction.jobs:run_extraction",
    "training": "digitlab.training.jobs:run_training",
}


def resolve(kind: str) -> Callable:
    module_name, _, attr = JOB_FUNCTIONS[kind].partition(":")
    return getattr(importlib.import_module(module_name), attr)
