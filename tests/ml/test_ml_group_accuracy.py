"""Accuracy per group of samples (per writer, for the evaluation on other writers) and batched onnxruntime runs."""

import numpy as np
import pytest

from digitlab.ml.evaluate import accuracy_by_group, evaluate_probabilities


def test_accuracy_per_writer_and_label():
    labels = ["a", "b", "c"]
    y = np.array([0, 0, 1, 1, 2, 0, 1, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 0, 0, 0, 2])
    writers = np.array([7, 7, 7, 7, 7, 3, 3, 3, 3])
    three, seven = accuracy_by_group(y, predicted, writers, labels)
    assert (three.group, three.count, three.correct, three.accuracy) == (3, 4, 2, 0.5)
    assert (seven.group, seven.count, seven.correct, seven.accuracy) == (7, 5, 4, 0.8)
    assert [(e.label, e.count, e.correct, e.accuracy) for e in three.per_label] == [
        ("a", 1, 1, 1.0), ("b", 1, 0, 0.0), ("c", 2, 1, 0.5)]
    # A label a writer never wrote has no accuracy rather than 0.
    assert [(e.label, e.count, e.accuracy) for e in seven.per_label] == [("a", 2, 0.5), ("b", 2, 1.0), ("c", 1, 1.0)]


def test_one_group_agrees_with_the_full_evaluation():
    rng = np.random.default_rng(0)
    probabilities = rng.random((200, 10))
    y = rng.integers(0, 10, 200)
    labels = list("0123456789")
    full = evaluate_probabilities(probabilities, y, labels)
    [whole] = accuracy_by_group(y, probabilities.argmax(axis=1), np.zeros(200, int), labels)
    assert whole.accuracy == pytest.approx(full.accuracy)
    assert whole.per_label == full.per_label


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="one label, prediction and group per sample"):
        accuracy_by_group([0, 1], [0], [1, 1], ["a", "b"])


@pytest.mark.slow
def test_batched_prediction_is_the_same_as_one_run(exported_mlp, digits):
    from digitlab.ml.onnx_runtime import OnnxModel

    model = OnnxModel(exported_mlp)
    x, _ = digits
    whole = model.predict(x[:300])
    batched = model.predict(x[:300], batch_size=64)
    np.testing.assert_allclose(batched, whole, atol=1e-6)
    assert model.predict(x[0], batch_size=4).shape == (1, 10)  # one 28x28 image is one sample, not 28 rows
