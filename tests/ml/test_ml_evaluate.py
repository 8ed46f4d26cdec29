"""Evaluation from probabilities (numpy only) and from a Keras model."""

import numpy as np
import pytest

from digitlab.ml.evaluate import cross_entropy, evaluate_probabilities

LABELS = ["a", "b", "c"]


def probabilities_for(predicted: list[int], confidence: list[float], n: int = 3) -> np.ndarray:
    probs = np.zeros((len(predicted), n))
    for row, (label, p) in enumerate(zip(predicted, confidence)):
        probs[row] = (1 - p) / (n - 1)
        probs[row, label] = p
    return probs


def test_accuracy_confusion_and_per_label():
    y = [0, 0, 0, 1, 1, 2, 2, 2]
    predicted = [0, 0, 1, 1, 2, 2, 2, 0]
    probs = probabilities_for(predicted, [0.9, 0.8, 0.7, 0.6, 0.95, 0.9, 0.5, 0.55])
    result = evaluate_probabilities(probs, y, LABELS)
    assert result.count == 8
    assert result.accuracy == pytest.approx(5 / 8)
    assert result.confusion == [[2, 1, 0], [0, 1, 1], [1, 0, 2]]  # rows true, columns predicted
    assert [(p.label, p.count, p.correct) for p in result.per_label] == [("a", 3, 2), ("b", 2, 1), ("c", 3, 2)]
    assert [p.accuracy for p in result.per_label] == pytest.approx([2 / 3, 1 / 2, 2 / 3])
    expected_loss = -np.mean(np.log(probs[np.arange(8), y]))
    assert result.loss == pytest.approx(expected_loss)


def test_misclassified_are_listed_most_confident_first():
    y = [0, 0, 0, 1, 1, 2, 2, 2]
    predicted = [0, 0, 1, 1, 2, 2, 2, 0]
    probs = probabilities_for(predicted, [0.9, 0.8, 0.7, 0.6, 0.95, 0.9, 0.5, 0.55])
    result = evaluate_probabilities(probs, y, LABELS)
    assert [(m.index, m.true, m.predicted) for m in result.misclassified] == [(4, 1, 2), (2, 0, 1), (7, 2, 0)]
    first = result.misclassified[0]
    assert first.confidence == pytest.approx(0.95) and first.true_probability == pytest.approx(0.025)
    assert not first.correct
    assert len(evaluate_probabilities(probs, y, LABELS, max_misclassified=1).misclassified) == 1


def test_gallery_covers_every_label_and_flags_correctness():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [100, 5, 100])
    probs = rng.dirichlet(np.ones(3), size=len(y))
    result = evaluate_probabilities(probs, y, LABELS, gallery_size=40)
    assert len(result.gallery) == 40
    true = [g.true for g in result.gallery]
    assert true.count(1) == 5 and true.count(0) + true.count(2) == 35 and true == sorted(true)
    for g in result.gallery:
        assert g.correct == (g.predicted == g.true) and g.predicted == int(probs[g.index].argmax())
    assert len({g.index for g in result.gallery}) == 40
    again = evaluate_probabilities(probs, y, LABELS, gallery_size=40)
    assert [g.index for g in again.gallery] == [g.index for g in result.gallery]
    small = evaluate_probabilities(probs[:3], y[:3], LABELS)
    assert [g.index for g in small.gallery] == [0, 1, 2]


def test_labels_without_test_samples_and_json_output():
    result = evaluate_probabilities(probabilities_for([0, 1], [0.9, 0.9]), [0, 1], LABELS)
    assert result.per_label[2].count == 0 and result.per_label[2].accuracy is None
    as_dict = result.to_dict()
    assert as_dict["labels"] == LABELS and as_dict["confusion"][2] == [0, 0, 0]
    assert set(as_dict["misclassified"][0] if as_dict["misclassified"] else {}) <= {
        "index", "true", "predicted", "confidence", "true_probability", "correct"}


def test_loss_is_clipped_like_keras():
    probs = np.array([[1.0, 0.0, 0.0]])
    assert cross_entropy(probs, np.array([1])) == pytest.approx(-np.log(1e-7))


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        evaluate_probabilities(np.zeros((2, 2)), [0, 1], LABELS)
    with pytest.raises(ValueError, match="no samples"):
        evaluate_probabilities(np.zeros((0, 3)), [], LABELS)
    with pytest.raises(ValueError, match="0..2"):
        evaluate_probabilities(np.full((1, 3), 1 / 3), [3], LABELS)


@pytest.mark.slow
def test_evaluate_model_matches_keras_evaluate(trained_mlp, splits):
    from digitlab.ml.evaluate import evaluate_model

    model = trained_mlp.result.model
    result = evaluate_model(model, splits.x_test, splits.y_test, splits.labels)
    keras_loss, keras_accuracy = model.evaluate(splits.x_test, splits.y_test, verbose=0)
    assert result.loss == pytest.approx(keras_loss, abs=1e-4)
    assert result.accuracy == pytest.approx(keras_accuracy, abs=1e-6)
    assert sum(map(sum, result.confusion)) == len(splits.y_test)
    # uint8 images as the dataset stores them give the same answer
    uint8 = np.rint(splits.x_test[..., 0] * 255).astype(np.uint8)
    assert evaluate_model(model, uint8, splits.y_test, splits.labels).accuracy == result.accuracy
