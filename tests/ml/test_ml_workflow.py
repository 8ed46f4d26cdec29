"""digitlab.ml.workflow: split, train, evaluate and export in one call (shared by the jobs and the CLI)."""

import numpy as np
import pytest

from digitlab.ml import architectures as A
from digitlab.ml.data import DatasetTooSmall

pytestmark = pytest.mark.slow


def small(digits, per_label=20):
    x, y = digits
    keep = np.concatenate([np.flatnonzero(y == label)[:per_label] for label in range(10)])
    return x[keep], y[keep]


def test_fit_and_evaluate_returns_everything_a_job_stores(digits):
    from digitlab.ml import workflow
    from digitlab.ml.onnx_runtime import OnnxModel

    x, y = small(digits)
    labels = list("0123456789")
    started = []
    outcome = workflow.fit_and_evaluate(x, y, labels, A.preset("mlp", 10), epochs=3, seed=1,
                                        on_started=started.append)
    assert started == [outcome.splits]
    assert outcome.result.epochs_run == 3 and outcome.evaluation.count == len(outcome.splits.y_test)
    onnx_model = OnnxModel(outcome.onnx)
    assert onnx_model.labels == labels
    np.testing.assert_allclose(onnx_model.predict(outcome.splits.x_test), outcome.probabilities, atol=1e-4)
    report = workflow.report(outcome)
    assert report["epochs_run"] == 3 and report["total_params"] == 89_610
    assert report["test_accuracy"] == outcome.evaluation.accuracy
    assert report["dataset"]["test"] == {label: 2 for label in labels}


def test_cancelled_runs_skip_evaluation_and_export(digits):
    from digitlab.ml import workflow

    x, y = small(digits)
    outcome = workflow.fit_and_evaluate(x, y, list("0123456789"), A.preset("mlp", 10), epochs=3,
                                        should_stop=lambda: True)
    assert outcome.result.stopped == "cancelled"
    assert outcome.evaluation is None and outcome.onnx is None


def test_too_small_data_fails_before_training(digits):
    from digitlab.ml import workflow

    x, y = small(digits, per_label=2)
    with pytest.raises(DatasetTooSmall):
        workflow.fit_and_evaluate(x, y, list("0123456789"), A.preset("mlp", 10))
