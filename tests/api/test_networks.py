"""Trained models: downloads (.onnx with per-layer outputs and metadata, .keras, card.json), ONNX/Keras parity,
and predictions on drawings (any size, shared preprocessing, optional activations of every layer).

Two short trainings run once for the module, side by side on one project: the CNN preset (relu, 5 epochs) and
the MLP preset with tanh (3 epochs), both with the same seed.
"""

import io
import json
import zipfile
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from digitlab.main import create_app
from digitlab.ml.onnx_runtime import OnnxModel
from digitlab.pipeline import CONTRACT_VERSION, normalize_sample
from tests.api import scanpages
from tests.api.helpers import new_project, new_user
from tests.api.trainings import (CNN_LAYERS, DIGITS, MLP_LAYERS, digits, drawing, import_samples, png,
                                 start_training, trainings_url, wait_for_training)
from tests.conftest import make_settings

SEED = 3


@dataclass
class Models:
    client: TestClient
    anna: object
    project: dict
    x: np.ndarray
    y: np.ndarray
    cnn: dict  # finished trainings (GET answers)
    tanh: dict


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Models:
    with TestClient(create_app(make_settings(tmp_path_factory.mktemp("models") / "data"))) as client:
        anna = new_user(client, "anna")
        project = new_project(client, anna, "anna's digits")
        x, y = digits(30, seed=21)
        import_samples(client, anna, project["id"], x, y)
        started = [start_training(client, anna, project["id"], architecture="cnn", epochs=5, seed=SEED),
                   start_training(client, anna, project["id"], architecture="mlp", activation="tanh", epochs=3,
                                  seed=SEED)]
        cnn, tanh = [wait_for_training(client, anna, training) for training in started]
        for training in (cnn, tanh):
            assert training["status"] == "succeeded", training
        yield Models(client, anna, project, x, y, cnn, tanh)


def url(training: dict, path: str = "") -> str:
    return trainings_url(training["project_id"], training["id"]) + path


def download(models: Models, training: dict, name: str):
    return models.client.get(url(training, f"/files/{name}"), headers=models.anna.headers)


def predict(models: Models, training: dict, image: bytes, activations: bool | None = None, name: str = "digit.png"):
    params = {} if activations is None else {"activations": str(activations).lower()}
    return models.client.post(url(training, "/predict"), params=params, headers=models.anna.headers,
                              files={"image": (name, image, "image/png")})


@pytest.fixture(scope="module")
def onnx_files(models) -> dict[str, bytes]:
    files = {}
    for key in ("cnn", "tanh"):
        response = download(models, getattr(models, key), "model.onnx")
        assert response.status_code == 200, response.text
        files[key] = response.content
    return files


def expected_layers(training: dict) -> list[dict]:
    return training["summary"]["layers"]


# ------------------------------------------------------------------------------------------ downloads

@pytest.mark.slow
@pytest.mark.parametrize("key, preset", [("cnn", CNN_LAYERS), ("tanh", MLP_LAYERS)])
def test_onnx_model_has_an_output_per_layer_named_after_it(models, onnx_files, key, preset):
    training = getattr(models, key)
    session = ort.InferenceSession(onnx_files[key], providers=["CPUExecutionProvider"])
    [model_input] = session.get_inputs()
    assert model_input.name == "input" and model_input.shape[1:] == [28, 28, 1]
    names = [layer["name"] for layer in expected_layers(training)]
    assert names == [name for name, *_ in preset]
    assert [output.name for output in session.get_outputs()] == names
    batch = (models.x[:2, ..., None] / 255).astype(np.float32)
    outputs = session.run(None, {"input": batch})
    for layer, output in zip(expected_layers(training), outputs):
        assert list(output.shape) == [2, *layer["output_shape"]], layer["name"]
    np.testing.assert_allclose(outputs[-1].sum(axis=1), 1, atol=1e-5)  # the last output is the softmax


@pytest.mark.slow
@pytest.mark.parametrize("key", ["cnn", "tanh"])
def test_onnx_model_carries_its_metadata(models, onnx_files, key):
    import onnx

    training = getattr(models, key)
    proto = onnx.load_from_string(onnx_files[key])
    assert {o.domain: o.version for o in proto.opset_import}[""] == 17
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["labels"]) == list(DIGITS)
    assert json.loads(meta["input_shape"]) == [1, 28, 28, 1]
    assert json.loads(meta["input_range"]) == [0, 1]
    assert meta["input_name"] == "input"
    assert meta["preprocessing_contract"] == CONTRACT_VERSION
    assert meta["digitlab_metadata_version"]
    layers = json.loads(meta["layers"])
    assert [(l["name"], l["kind"], l["output_shape"], l["params"], l["activation"]) for l in layers] == [
        (l["name"], l["kind"], [1, *l["output_shape"]], l["params"], l["activation"]) for l in expected_layers(training)]
    assert meta["output_name"] == layers[-1]["name"]
    assert int(meta["total_params"]) == training["summary"]["total_params"]
    # onnxruntime reads the same through the project's own loader.
    loaded = OnnxModel(onnx_files[key])
    assert loaded.labels == list(DIGITS) and loaded.layer_names == [l["name"] for l in layers]


@pytest.mark.slow
def test_download_headers(models):
    response = download(models, models.cnn, "model.onnx")
    assert response.headers["content-type"] == "application/octet-stream"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment") and "model.onnx" in disposition
    assert str(models.cnn["id"]) in disposition


@pytest.mark.slow
def test_keras_download_is_a_keras_archive(models):
    response = download(models, models.cnn, "model.keras")
    assert response.status_code == 200
    assert len(response.content) > 1000
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = set(archive.namelist())
        assert {"config.json", "metadata.json", "model.weights.h5"} <= names
        config = json.loads(archive.read("config.json"))
    layer_names = [layer["config"]["name"] for layer in config["config"]["layers"] if layer["class_name"] != "InputLayer"]
    assert layer_names == [layer["name"] for layer in expected_layers(models.cnn)]


@pytest.mark.slow
@pytest.mark.parametrize("key", ["cnn", "tanh"])
def test_model_card(models, key):
    training = getattr(models, key)
    response = download(models, training, "card.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    card = response.json()
    assert card["training_id"] == training["id"] and card["project_id"] == models.project["id"]
    assert card["labels"] == list(DIGITS)
    assert card["architecture"] == training["architecture"] and card["activation"] == training["activation"]
    assert card["network"]["total_params"] == training["summary"]["total_params"]
    assert card["network"]["layers"] == training["summary"]["layers"]
    assert card["settings"] == training["settings"]
    assert card["dataset"] == training["dataset"]
    assert card["epochs_run"] == training["settings"]["epochs"] and card["stopped"] == "completed"
    assert card["test"]["accuracy"] == pytest.approx(training["test_accuracy"])
    assert card["test"]["loss"] == pytest.approx(training["test_loss"])
    assert len(card["test"]["per_label"]) == 10
    assert card["created_at"] and card["finished_at"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["test_set.npz", "model.h5", "card.json.bak", "MODEL.ONNX", "%2e%2e"])
def test_only_the_published_files_can_be_downloaded(models, name):
    response = download(models, models.cnn, name)
    assert response.status_code == 404, (name, response.status_code)
    assert response.json()["code"] == "not_found"


@pytest.mark.slow
def test_same_seed_gives_the_same_stratified_split(models):
    """Two trainings on the same data with the same seed test on the very same samples, 3 of each label."""
    tests = []
    for training in (models.cnn, models.tanh):
        evaluation = models.client.get(url(training, "/evaluation"), headers=models.anna.headers).json()
        assert evaluation["count"] == 30 == len(evaluation["gallery"])  # the gallery holds the whole test part
        tests.append(sorted((g["cell_id"], g["true"]) for g in evaluation["gallery"]))
    assert tests[0] == tests[1]
    assert sorted(true for _, true in tests[0]) == sorted(DIGITS * 3)
    assert models.cnn["dataset"] == models.tanh["dataset"]


# ------------------------------------------------------------------------------------------ Keras parity

@pytest.mark.slow
@pytest.mark.parametrize("key", ["cnn", "tanh"])
def test_onnx_matches_the_keras_model(models, onnx_files, key, tmp_path):
    """The downloaded .keras and .onnx compute the same activations, layer by layer (TensorFlow in this process)."""
    from digitlab.ml import _tf

    keras = _tf.keras()
    training = getattr(models, key)
    path = tmp_path / "model.keras"
    path.write_bytes(download(models, training, "model.keras").content)
    model = keras.models.load_model(path)
    names = [layer.name for layer in model.layers]
    assert names == [layer["name"] for layer in expected_layers(training)]
    every_layer = keras.Model(model.inputs[0], [layer.output for layer in model.layers])
    x = (models.x[..., None] / 255).astype(np.float32)
    want = [np.asarray(a) for a in every_layer.predict(x, verbose=0)]
    session = ort.InferenceSession(onnx_files[key], providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input": x})))
    for name, expected in zip(names, want):
        assert got[name].shape == expected.shape, name
        np.testing.assert_allclose(got[name], expected, atol=1e-4, rtol=0, err_msg=name)
    assert (got[names[-1]].argmax(axis=1) == want[-1].argmax(axis=1)).all()


# ------------------------------------------------------------------------------------------ predict

def confident_samples(models: Models, onnx: bytes, count: int = 4) -> list[tuple[np.ndarray, str]]:
    """Samples the model itself classifies with >= 0.7 confidence, each of another predicted label."""
    model = OnnxModel(onnx)
    probabilities = model.predict(models.x)
    chosen, labels = [], set()
    for i in np.argsort(-probabilities.max(axis=1)):
        label = model.labels[int(probabilities[i].argmax())]
        if probabilities[i].max() >= 0.7 and label not in labels:
            chosen.append((models.x[i], label))
            labels.add(label)
        if len(chosen) == count:
            break
    assert len(chosen) >= 2, "the model is not confident about anything"
    return chosen


def rgba_canvas(sample: np.ndarray, side: int = 280) -> bytes:
    """What a browser canvas exports: black strokes on a transparent background (RGBA)."""
    alpha = cv2.resize(sample, (side, side), interpolation=cv2.INTER_LINEAR)
    image = np.zeros((side, side, 4), np.uint8)
    image[..., 3] = alpha
    return png(image)


@pytest.mark.slow
@pytest.mark.parametrize("key", ["cnn", "tanh"])
def test_a_drawing_of_any_size_gets_the_models_own_label(models, onnx_files, key):
    training = getattr(models, key)
    for sample, label in confident_samples(models, onnx_files[key]):
        for image in (drawing(sample, 200), drawing(sample, 150, canvas=(320, 240)), rgba_canvas(sample)):
            response = predict(models, training, image)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["predicted"] == label
            assert answer["labels"] == list(DIGITS) and answer["training_id"] == training["id"]
            probabilities = np.array(answer["probabilities"])
            assert probabilities.shape == (10,) and abs(probabilities.sum() - 1) < 1e-4
            assert answer["confidence"] == pytest.approx(probabilities.max(), abs=1e-6)
            assert answer["predicted"] == DIGITS[int(probabilities.argmax())]
            # The input is the shared preprocessing of the drawing: about that of the 28x28 sample itself. Drawn
            # again at another size, the samples these networks are sure of come back 0.016-0.058 off on average
            # (a thin "9" the most); a broken preprocessing (shifted, inverted, unscaled) is 0.2 and more.
            model_input = np.array(answer["input"])
            assert model_input.shape == (28, 28) and 0 <= model_input.min() and model_input.max() <= 1
            assert np.abs(model_input - normalize_sample(sample / 255)).mean() < 0.08
            assert "activations" not in answer


@pytest.mark.slow
@pytest.mark.parametrize("key", ["cnn", "tanh"])
def test_activations_of_every_layer(models, onnx_files, key):
    training = getattr(models, key)
    sample, _ = confident_samples(models, onnx_files[key], count=2)[0]
    response = predict(models, training, drawing(sample, 200), activations=True)
    assert response.status_code == 200, response.text
    answer = response.json()
    activations = answer["activations"]
    layers = expected_layers(training)
    assert list(activations) == [layer["name"] for layer in layers]
    for layer in layers:
        entry = activations[layer["name"]]
        assert entry["shape"] == layer["output_shape"], layer["name"]
        assert len(entry["values"]) == int(np.prod(layer["output_shape"])), layer["name"]
    np.testing.assert_allclose(activations[layers[-1]["name"]]["values"], answer["probabilities"], atol=1e-5)
    # They are the model's activations on the returned input.
    session = ort.InferenceSession(onnx_files[key], providers=["CPUExecutionProvider"])
    x = np.array(answer["input"], dtype=np.float32)[None, ..., None]
    for layer, output in zip(layers, session.run(None, {"input": x})):
        np.testing.assert_allclose(activations[layer["name"]]["values"], output.ravel(), atol=1e-4)
    hidden = [activations[layer["name"]]["values"] for layer in layers
              if layer["activation"] in ("relu", "tanh")]
    assert hidden
    if key == "cnn":  # relu: never negative
        assert all(min(values) >= 0 for values in hidden)
    else:  # tanh: blue and orange, within (-1, 1)
        assert all(min(values) < 0 < max(values) for values in hidden)
        assert all(-1 <= min(values) and max(values) <= 1 for values in hidden)


@pytest.mark.slow
def test_activations_false_leaves_them_out(models, onnx_files):
    sample, _ = confident_samples(models, onnx_files["tanh"], count=2)[0]
    answer = predict(models, models.tanh, drawing(sample, 120), activations=False).json()
    assert "activations" not in answer and answer["predicted"] in DIGITS


@pytest.mark.slow
@pytest.mark.parametrize("case", ["text", "empty", "truncated png", "png bomb", "jpeg header only", "pdf"])
def test_predict_refuses_what_is_not_a_drawing(models, case):
    whole = drawing(models.x[0], 100)
    data = {"text": b"this is not an image", "empty": b"", "truncated png": whole[: len(whole) // 2],
            "png bomb": scanpages.png_bomb(), "jpeg header only": b"\xff\xd8\xff\xe0" + b"\0" * 20,
            "pdf": scanpages.pdf_pages(2)}[case]
    response = predict(models, models.cnn, data)
    assert 400 <= response.status_code < 500, (case, response.status_code, response.text[:200])
    body = response.json()
    assert body["detail"] and body["code"], body


@pytest.mark.slow
def test_predict_refuses_an_oversized_upload_and_a_missing_image(models):
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024 + 10)
    response = predict(models, models.cnn, big)
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    response = models.client.post(url(models.cnn, "/predict"), headers=models.anna.headers)
    assert response.status_code == 422 and "image" in response.json()["detail"]


@pytest.mark.slow
def test_a_blank_drawing_is_answered_not_crashed(models):
    response = predict(models, models.cnn, png(np.full((200, 200), 255, np.uint8)), activations=True)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert np.array(response.json()["input"]).max() == 0
