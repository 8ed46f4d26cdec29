"""The numpy + onnxruntime wrapper the API (and the benchmark) use."""

import json

import numpy as np
import pytest

from digitlab.ml.onnx_runtime import OnnxModel, benchmark_latency, read_metadata

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_file(exported_mlp, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "mlp.onnx"
    path.write_bytes(exported_mlp)
    return path


def test_loads_from_path_or_bytes_and_reads_metadata(model_file, exported_mlp):
    for source in (model_file, str(model_file), exported_mlp):
        model = OnnxModel(source)
        assert model.labels == list("0123456789")
        assert model.layer_names == ["flatten", "dense", "dense_1", "dense_2"]
        assert model.input_name == "input" and model.output_name == "dense_2"
    metadata = read_metadata(model_file)
    assert metadata["labels"] == list("0123456789")
    assert metadata["input_shape"] == [1, 28, 28, 1] and metadata["input_range"] == [0, 1]
    assert [(layer["kind"], layer["output_shape"]) for layer in metadata["layers"]] == [
        ("flatten", [1, 784]), ("dense", [1, 100]), ("dense", [1, 100]), ("dense", [1, 10])]


def test_single_images_and_batches(model_file, digits):
    model = OnnxModel(model_file)
    x, y = digits
    one = model.predict(x[0])  # uint8 28x28, as the dataset stores it
    assert one.shape == (1, 10)
    batch = model.predict(x[:50])
    assert batch.shape == (50, 10)
    np.testing.assert_allclose(batch[0], one[0], atol=1e-6)
    assert np.mean(batch.argmax(axis=1) == y[:50]) > 0.8
    label, confidence = model.classify(x[0])
    assert label == model.labels[int(one[0].argmax())] and confidence == pytest.approx(float(one[0].max()))


def test_activations_by_layer_name(model_file, digits):
    model = OnnxModel(model_file)
    x, _ = digits
    result = model.run(x[:3])
    assert list(result.activations) == model.layer_names
    for layer in model.layers:
        assert list(result.activations[layer["name"]].shape) == [3, *layer["output_shape"][1:]]
    np.testing.assert_allclose(result.activations["flatten"], x[:3].reshape(3, -1) / 255, atol=1e-6)
    assert result.predicted.tolist() == result.probabilities.argmax(axis=1).tolist()
    assert model.run(x[:3], activations=False).activations == {}


def test_bad_input_is_refused(model_file):
    model = OnnxModel(model_file)
    with pytest.raises(ValueError):
        model.predict(np.zeros((32, 32), np.uint8))


def test_latency_benchmark_helper(model_file):
    timing = benchmark_latency(OnnxModel(model_file), runs=50, warmup=5)
    assert timing["runs"] == 50
    assert 0 < timing["min_ms"] <= timing["median_ms"] <= timing["p95_ms"]


def test_models_without_digitlab_metadata_still_run(exported_mlp):
    import onnx

    proto = onnx.load_from_string(exported_mlp)
    del proto.metadata_props[:]
    model = OnnxModel(proto.SerializeToString())
    assert model.labels == [str(i) for i in range(10)]
    assert model.output_name == "dense_2" and model.layer_names == ["flatten", "dense", "dense_1", "dense_2"]
    assert json.dumps(model.metadata) == "{}"
