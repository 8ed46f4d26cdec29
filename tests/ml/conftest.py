"""Shared, session-scoped data and one trained model, so the expensive parts run once.

Everything is synthetic (digitlab.ml.synthetic): nothing is downloaded.
"""

from dataclasses import dataclass, field

import numpy as np
import pytest

from digitlab.ml import architectures, data, synthetic

LABELS = tuple("0123456789")


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """600 easy synthetic digits (60 per label), uint8 28x28, with label indices."""
    return synthetic.make_digits(60, LABELS, seed=0)


@pytest.fixture(scope="session")
def splits(digits) -> data.DatasetSplits:
    x, y = digits
    return data.split_dataset(x, y, labels=LABELS, seed=0)


@dataclass
class TrainedRun:
    result: object  # digitlab.ml.train.TrainResult
    epochs: list[dict] = field(default_factory=list)
    progress: list[tuple[int, float]] = field(default_factory=list)


@pytest.fixture(scope="session")
def trained_mlp(splits) -> TrainedRun:
    """The MLP preset trained for a few epochs, with every callback call recorded."""
    from digitlab.ml import train

    run = TrainedRun(result=None)
    run.result = train.train(architectures.preset("mlp", len(LABELS)), splits, epochs=6, seed=0,
                             on_epoch=run.epochs.append,
                             on_batch_progress=lambda epoch, fraction: run.progress.append((epoch, fraction)),
                             check_interval=0.0)
    return run


@pytest.fixture(scope="session")
def exported_mlp(trained_mlp) -> bytes:
    """The trained MLP as ONNX bytes."""
    from digitlab.ml import export

    return export.to_onnx(trained_mlp.result.model, LABELS)
