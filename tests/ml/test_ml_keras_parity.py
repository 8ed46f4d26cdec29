"""The pure-Python summary must equal what Keras itself builds: names, shapes, parameter counts."""

import re

import pytest

from digitlab.ml import architectures as A
from tests.ml.networks import CUSTOM

NETWORKS = {
    "mlp": (A.preset("mlp", 10), 10),
    "cnn": (A.preset("cnn", 10), 10),
    "cnn_tanh_4": (A.preset("cnn", 4, "tanh"), 4),
    **{name: (layers, 3) for name, layers in CUSTOM.items()},
}


def keras_total_from_summary(model) -> int:
    lines: list[str] = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    match = re.search(r"Total params: ([\d,]+)", "\n".join(lines))
    assert match, lines
    return int(match.group(1).replace(",", ""))


@pytest.mark.parametrize("name", NETWORKS)
def test_summary_equals_keras(name):
    from digitlab.ml.train import build_model

    layers, n_labels = NETWORKS[name]
    summary = A.validate(layers, n_labels)
    model = build_model(layers, n_labels, seed=0)
    assert [layer.name for layer in model.layers] == summary.layer_names
    for ours, theirs in zip(summary.layers, model.layers):
        assert tuple(theirs.output.shape[1:]) == ours.output_shape, ours.name
        assert theirs.count_params() == ours.params, ours.name
    assert model.count_params() == summary.total_params
    assert keras_total_from_summary(model) == summary.total_params
    assert tuple(model.inputs[0].shape[1:]) == (28, 28, 1)


def test_preset_totals_in_keras():
    from digitlab.ml.train import build_model

    assert build_model(A.preset("mlp", 10), 10).count_params() == 89_610
    assert build_model(A.preset("cnn", 10), 10).count_params() == 225_034


def test_build_model_validates_first():
    from digitlab.ml.train import build_model

    with pytest.raises(A.ArchitectureError):
        build_model([A.Dense(units=10, activation="softmax")], 10)


def test_same_seed_same_initial_weights():
    import numpy as np

    from digitlab.ml.train import build_model

    a = build_model(A.preset("mlp", 10), 10, seed=5).get_weights()
    b = build_model(A.preset("mlp", 10), 10, seed=5).get_weights()
    c = build_model(A.preset("mlp", 10), 10, seed=6).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
