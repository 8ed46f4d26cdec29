"""Keras files and ONNX export: every layer an output named after it, equal to Keras, with metadata."""

import json

import numpy as np
import pytest

from digitlab.ml import architectures as A
from tests.ml.networks import CUSTOM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),  # inside Keras' saving
]

LABELS = list("0123456789")


def keras_activations(model, x):
    from digitlab.ml.export import activation_model

    return [np.asarray(a) for a in activation_model(model)(x, training=False)]


@pytest.fixture(scope="module")
def networks(trained_mlp):
    """name -> (keras model, labels): the trained MLP, an untrained CNN, and a custom network."""
    from digitlab.ml.train import build_model

    return {
        "mlp": (trained_mlp.result.model, LABELS),
        "cnn": (build_model(A.preset("cnn", 10), 10, seed=1), LABELS),
        "custom": (build_model(CUSTOM["strided_same_conv"], 3, seed=2), ["x", "y", "z"]),
    }


@pytest.fixture(scope="module")
def exported(networks, exported_mlp):
    from digitlab.ml.export import to_onnx

    return {"mlp": exported_mlp, **{name: to_onnx(model, labels) for name, (model, labels) in networks.items()
                                    if name != "mlp"}}


@pytest.mark.parametrize("name", ["mlp", "cnn", "custom"])
def test_onnx_outputs_equal_keras_for_every_layer(name, networks, exported, splits):
    from digitlab.ml.onnx_runtime import OnnxModel

    model, labels = networks[name]
    onnx_model = OnnxModel(exported[name])
    names = [layer.name for layer in model.layers]
    assert onnx_model.output_names == names
    assert onnx_model.output_name == names[-1]
    x = splits.x_test[:16]
    result = onnx_model.run(x, activations=True)
    for layer_name, expected in zip(names, keras_activations(model, x)):
        got = result.activations[layer_name]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0, err_msg=layer_name)
    np.testing.assert_allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(onnx_model.predict(x), result.probabilities, atol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "cnn", "custom"])
def test_onnx_file_is_opset_17_with_metadata(name, networks, exported):
    import onnx

    from digitlab.pipeline.normalize import CONTRACT_VERSION

    model, labels = networks[name]
    proto = onnx.load_from_string(exported[name])
    assert {o.domain: o.version for o in proto.opset_import}[""] == 17
    assert [i.name for i in proto.graph.input] == ["input"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [28, 28, 1]
    assert all(o.type.tensor_type.shape.dim[0].dim_param == "batch" for o in proto.graph.output)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["labels"]) == labels
    assert json.loads(meta["input_shape"]) == [1, 28, 28, 1]
    assert json.loads(meta["input_range"]) == [0, 1]
    assert meta["preprocessing_contract"] == str(CONTRACT_VERSION)
    assert meta["output_name"] == model.layers[-1].name
    layers = json.loads(meta["layers"])
    summary = A.validate(A.preset(name, 10) if name != "custom" else CUSTOM["strided_same_conv"], len(labels))
    assert [(l["name"], l["kind"], l["output_shape"], l["params"]) for l in layers] == [
        (s.name, s.kind, [1, *s.output_shape], s.params) for s in summary.layers]
    assert int(meta["total_params"]) == summary.total_params


def test_export_writes_files_atomically(networks, tmp_path):
    from digitlab.ml.export import export_onnx, load_keras, save_keras
    from digitlab.ml.onnx_runtime import OnnxModel

    model, labels = networks["cnn"]
    keras_path = save_keras(model, tmp_path / "out" / "model.keras")
    onnx_path = export_onnx(model, labels, tmp_path / "out" / "model.onnx")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model.keras", "model.onnx"]
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)
    loaded = load_keras(keras_path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(OnnxModel(onnx_path).predict(x), model.predict(x, verbose=0), atol=1e-4)
    with pytest.raises(ValueError, match=".keras"):
        save_keras(model, tmp_path / "model.h5")


def test_a_failed_write_leaves_nothing(networks, tmp_path):
    from digitlab.ml import export

    model, _ = networks["cnn"]
    with pytest.raises(export.ExportError):
        export.export_onnx(model, ["only", "three", "labels"], tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []

    class Broken:
        def save(self, path):
            path.write_bytes(b"half")
            raise OSError("disk full")

    with pytest.raises(OSError):
        export.save_keras(Broken(), tmp_path / "model.keras")
    assert list(tmp_path.iterdir()) == []


def test_onnx_of_a_trained_model_evaluates_like_keras(trained_mlp, exported_mlp, splits):
    from digitlab.ml.evaluate import evaluate_model, evaluate_probabilities
    from digitlab.ml.onnx_runtime import OnnxModel

    from_keras = evaluate_model(trained_mlp.result.model, splits.x_test, splits.y_test, splits.labels)
    onnx_model = OnnxModel(exported_mlp)
    from_onnx = evaluate_probabilities(onnx_model.predict(splits.x_test), splits.y_test, onnx_model.labels)
    assert from_onnx.loss == pytest.approx(from_keras.loss, abs=1e-4)
    assert from_onnx.confusion == from_keras.confusion
    assert from_onnx.accuracy > 0.8
