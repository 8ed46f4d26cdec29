"""Trainings through the API: network summaries and validation, dataset checks, the live stream (WebSocket and
REST history), the list of a project's trainings, cancelling, and the evaluation of a finished training.

One short MLP training (4 epochs on 300 synthetic digits) runs once for the module and is watched from the
start by two WebSocket clients; most tests read what it left behind.
"""

import json
import time
from dataclasses import dataclass

import numpy as np
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from digitlab.main import create_app
from digitlab.training.schemas import training_message
from tests.api.helpers import all_cells, new_project, new_user
from tests.api.trainings import (CNN_LAYERS, DIGITS, MESSAGE_SCHEMA_PATH, MLP_LAYERS, assert_valid_messages,
                                 data_url_image, digits, drawing, events_of, import_samples, message_validator,
                                 read_until_end, receive_json, socket_url, start_training, trainings_url,
                                 wait_for_training)
from tests.conftest import make_settings

EPOCHS = 4
SEED = 7
# What new trainings get unless asked otherwise: augmentation, the best epoch kept, a cosine learning rate.
DEFAULT_GENERALISATION = {"early_stopping": 10, "lr_schedule": "cosine",
                          "augmentation": {"rotation": 12.0, "shift": 0.08, "zoom": 0.1, "stroke": 0.5, "elastic": 2.0}}
PER_LABEL = 30  # 300 samples: 240 train, 30 validation, 30 test (3 of each label)


@dataclass
class World:
    client: TestClient
    anna: object
    ben: object
    project: dict  # anna's, with PER_LABEL synthetic samples of every digit
    x: np.ndarray
    y: np.ndarray
    training: dict | None = None  # the module's training, as POST answered
    live: list[dict] | None = None  # everything the first client received, watching from the start
    together: list[dict] | None = None  # a second client, connected at the same time
    close_code: int | None = None  # how the server closed the first socket after `end`


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> World:
    """The service with two users and anna's dataset; nothing trained (cheap: for the tests that train nothing)."""
    settings = make_settings(tmp_path_factory.mktemp("training") / "data")
    with TestClient(create_app(settings)) as client:
        anna, ben = new_user(client, "anna"), new_user(client, "ben")
        project = new_project(client, anna, "anna's digits")
        x, y = digits(PER_LABEL, seed=11)
        import_samples(client, anna, project["id"], x, y)
        yield World(client, anna, ben, project, x, y)


@pytest.fixture(scope="module")
def world(service) -> World:
    """The service after one short MLP training, watched from the start by two clients at once."""
    client, anna = service.client, service.anna
    training = start_training(client, anna, service.project["id"], architecture="mlp", epochs=EPOCHS, seed=SEED)
    with client.websocket_connect(socket_url(training, anna)) as first, \
            client.websocket_connect(socket_url(training, anna)) as second:
        live = read_until_end(first)
        together = read_until_end(second)
        try:
            receive_json(first, timeout=10)
            close_code = None
        except WebSocketDisconnect as exc:
            close_code = exc.code
    return World(client, anna, service.ben, service.project, service.x, service.y, training, live, together,
                 close_code)


@pytest.fixture(scope="module")
def finished(world) -> dict:
    """The module's training as GET answers once it has ended."""
    return world.client.get(trainings_url(world.project["id"], world.training["id"]), headers=world.anna.headers).json()


@pytest.fixture(scope="module")
def evaluation(world, finished) -> dict:
    response = world.client.get(f"{trainings_url(world.project['id'], world.training['id'])}/evaluation",
                                headers=world.anna.headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def small_budget(tmp_path):
    """A service whose network budget (100,000 parameters) admits the MLP preset but not the CNN."""
    with TestClient(create_app(make_settings(tmp_path / "data", max_network_params=100_000))) as client:
        user = new_user(client, "carla")
        yield client, user, new_project(client, user, "small")


def summary(client, user, project_id: int, **body):
    return client.post(f"{trainings_url(project_id)}/summary", json=body, headers=user.headers)


def training_count(service) -> int:
    return len(service.client.get(trainings_url(service.project["id"]), headers=service.anna.headers).json())


# ------------------------------------------------------------------------------------------ summaries

@pytest.mark.parametrize("architecture, expected, total", [("mlp", MLP_LAYERS, 89_610), ("cnn", CNN_LAYERS, 225_034)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_presets_summary_has_exact_layers_and_parameter_counts(service, architecture, expected, total, activation):
    response = summary(service.client, service.anna, service.project["id"], architecture=architecture, activation=activation)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_params"] == total
    assert body["input_shape"] == [28, 28, 1]
    want = [(name, kind, shape, params, activation if act == "relu" else act)
            for name, kind, shape, params, act in expected]
    got = [(layer["name"], layer["kind"], layer["output_shape"], layer["params"], layer["activation"])
           for layer in body["layers"]]
    assert got == want
    assert [layer["index"] for layer in body["layers"]] == list(range(len(expected)))
    assert sum(layer["params"] for layer in body["layers"]) == total


def test_summary_of_a_project_with_other_labels_trains_nothing(service):
    client, anna = service.client, service.anna
    letters = new_project(client, anna, "letters", labels=list("ABCDEFGHIJ"))
    body = summary(client, anna, letters["id"], architecture="mlp").json()
    assert body["total_params"] == 89_610 and body["layers"][-1]["output_shape"] == [10]
    assert summary(client, anna, letters["id"], architecture="cnn").json()["total_params"] == 225_034
    assert client.get(trainings_url(letters["id"]), headers=anna.headers).json() == []
    assert client.get(f"/api/projects/{letters['id']}/jobs", headers=anna.headers).json() == []


def test_custom_network_summary_adds_the_output_layer(service):
    layers = [{"kind": "conv2d", "filters": 8, "kernel_size": 5, "padding": "same"},
              {"kind": "max_pooling2d", "pool_size": 2}, {"kind": "flatten"},
              {"kind": "dense", "units": 32, "activation": "tanh"}, {"kind": "dropout", "rate": 0.25}]
    response = summary(service.client, service.anna, service.project["id"], architecture="custom", layers=layers)
    assert response.status_code == 200, response.text
    got = [(layer["name"], layer["output_shape"], layer["params"]) for layer in response.json()["layers"]]
    assert got == [("conv2d", [28, 28, 8], 5 * 5 * 8 + 8), ("max_pooling2d", [14, 14, 8], 0), ("flatten", [1568], 0),
                   ("dense", [32], 1568 * 32 + 32), ("dropout", [32], 0), ("dense_1", [10], 330)]
    assert response.json()["total_params"] == 208 + 50_208 + 330


# ------------------------------------------------------------------------------------------ invalid networks

FLAT = {"kind": "flatten"}
INVALID = {
    "dense before flatten": ([{"kind": "dense", "units": 10}], 0, "dense", "flatten"),
    "conv after flatten": ([FLAT, {"kind": "conv2d", "filters": 4}], 1, "conv2d", "flatten"),
    "pooling after flatten": ([FLAT, {"kind": "max_pooling2d"}], 1, "max_pooling2d", "flatten"),
    "kernel larger than input": ([{"kind": "conv2d", "filters": 4, "kernel_size": 3}, {"kind": "max_pooling2d"},
                                  {"kind": "conv2d", "filters": 4, "kernel_size": 3}, {"kind": "max_pooling2d"},
                                  {"kind": "conv2d", "filters": 4, "kernel_size": 7}, FLAT],
                                 4, "conv2d_2", "7x7"),
    "pooling leaves nothing": ([{"kind": "max_pooling2d", "pool_size": 30}, FLAT], 0, "max_pooling2d", "nothing"),
    "unknown kind": ([FLAT, {"kind": "lstm", "units": 4}], 1, None, "lstm"),
    "missing kind": ([FLAT, {"units": 4}], 1, None, "kind"),
    "misspelt field": ([FLAT, {"kind": "dense", "units": 64, "activaton": "relu"}], 1, "dense", "activaton"),
    "missing field": ([FLAT, {"kind": "dense"}], 1, "dense", "units"),
    "zero units": ([FLAT, {"kind": "dense", "units": 64}, {"kind": "dense", "units": 0}], 2, "dense_1", "units"),
    "text for a number": ([FLAT, {"kind": "dense", "units": "many"}], 1, "dense", "units"),
    "unknown activation": ([FLAT, {"kind": "dense", "units": 8, "activation": "swish"}], 1, "dense", "swish"),
    "softmax in a hidden layer": ([FLAT, {"kind": "dense", "units": 8, "activation": "softmax"}], 1, "dense",
                                  "softmax"),
    "dropout rate 1": ([FLAT, {"kind": "dropout", "rate": 1.0}], 1, "dropout", "rate"),
    "bad padding": ([{"kind": "conv2d", "filters": 4, "padding": "full"}, FLAT], 0, "conv2d", "padding"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_impossible_custom_networks_are_refused_naming_the_layer(service, case):
    layers, index, name, mentioned = INVALID[case]
    before = training_count(service)
    for url in (f"{trainings_url(service.project['id'])}/summary", trainings_url(service.project["id"])):
        body = {"architecture": "custom", "layers": layers} | ({"epochs": 1} if not url.endswith("summary") else {})
        response = service.client.post(url, json=body, headers=service.anna.headers)
        assert response.status_code == 422, (url, response.text)
        error = response.json()
        assert error["code"] == "invalid_network", error
        assert error["layer_index"] == index, error
        assert error["layer_name"] == name, error
        assert mentioned.lower() in error["detail"].lower(), error
        assert f"Layer {index + 1}" in error["detail"], error  # people count from 1
    assert training_count(service) == before  # refused before anything was queued


def test_network_over_the_parameter_budget_is_refused(small_budget):
    client, user, project = small_budget
    assert summary(client, user, project["id"], architecture="mlp").status_code == 200  # 89,610 fits
    big = [FLAT, {"kind": "dense", "units": 200}]  # 157,000 + 2,010 parameters
    for body in ({"architecture": "custom", "layers": big}, {"architecture": "cnn"}):
        for url in (f"{trainings_url(project['id'])}/summary", trainings_url(project["id"])):
            response = client.post(url, json=body, headers=user.headers)
            assert response.status_code == 422, response.text
            error = response.json()
            assert error["code"] == "invalid_network"
            assert "100,000" in error["detail"]
            assert "dense" in error["detail"]  # the largest layer is named
    assert client.get(trainings_url(project["id"]), headers=user.headers).json() == []


@pytest.mark.parametrize("body", [
    {"architecture": "custom"},
    {"architecture": "custom", "layers": []},
    {"architecture": "mlp", "layers": [FLAT]},
    {"architecture": "rnn"},
    {"architecture": "mlp", "activation": "softmax"},
    {"architecture": "custom", "layers": [FLAT, 5]},
    {"architecture": "custom", "layers": [FLAT] * 60},
])
def test_malformed_network_choices_are_422(service, body):
    before = training_count(service)
    for url in (f"{trainings_url(service.project['id'])}/summary", trainings_url(service.project["id"])):
        response = service.client.post(url, json=body, headers=service.anna.headers)
        assert response.status_code == 422, (url, body, response.text)
        assert response.json()["detail"]
    assert training_count(service) == before


@pytest.mark.parametrize("ranges", [{"rotation": -1}, {"rotation": 46}, {"shift": 0.31}, {"zoom": -0.1},
                                    {"stroke": 1.5}, {"elastic": 5}, {"rotation": "a lot"}, {"twist": 3}])
def test_augmentation_ranges_out_of_bounds_are_422(service, ranges):
    before = training_count(service)
    response = service.client.post(trainings_url(service.project["id"]), json={"augmentation": ranges},
                                   headers=service.anna.headers)
    assert response.status_code == 422, response.text
    assert next(iter(ranges)) in response.json()["detail"]
    assert training_count(service) == before


@pytest.mark.parametrize("field, value", [("epochs", 0), ("epochs", 501), ("batch_size", 0), ("learning_rate", 0),
                                          ("learning_rate", 2), ("val_fraction", 0.6), ("test_fraction", 0),
                                          ("seed", -1), ("early_stopping", -1), ("epochs", "thirty"),
                                          ("lr_schedule", "step"), ("augmentation", 1)])
def test_bad_training_settings_are_422(service, field, value):
    before = training_count(service)
    response = service.client.post(trainings_url(service.project["id"]), json={"architecture": "mlp", field: value},
                                 headers=service.anna.headers)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert training_count(service) == before


# ------------------------------------------------------------------------------------------ datasets too small

def test_a_label_with_fewer_than_three_samples_is_refused_naming_it(service):
    client, anna = service.client, service.anna
    project = new_project(client, anna, "tiny")
    x, y = digits(5, seed=3)
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 2)[:4]])
    import_samples(client, anna, project["id"], x[keep], y[keep])
    response = client.post(trainings_url(project["id"]), json={"architecture": "mlp"}, headers=anna.headers)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "dataset_too_small"
    assert "'1'" in error["detail"] and "2 samples" in error["detail"] and "3" in error["detail"]
    assert client.get(trainings_url(project["id"]), headers=anna.headers).json() == []
    assert client.get(f"/api/projects/{project['id']}/jobs", headers=anna.headers).json() == []


def test_excluded_samples_do_not_count(service):
    client, anna = service.client, service.anna
    project = new_project(client, anna, "mostly excluded")
    x, y = digits(4, seed=5)
    import_samples(client, anna, project["id"], x[y < 3], y[y < 3])
    ok = client.post(f"{trainings_url(project['id'])}/summary", json={}, headers=anna.headers)
    assert ok.status_code == 200
    twos = [cell for cell in all_cells(client, anna, project["id"]) if cell["label"] == "2"]
    for cell in twos[:2]:  # 4 -> 2 included samples of "2"
        response = client.patch(f"/api/projects/{project['id']}/dataset/cells/{cell['id']}", json={"included": False},
                                headers=anna.headers)
        assert response.status_code == 200, response.text
    response = client.post(trainings_url(project["id"]), json={}, headers=anna.headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "dataset_too_small" and "'2'" in response.json()["detail"]


@pytest.mark.parametrize("labels_present", [[], [4]])
def test_fewer_than_two_labels_is_refused(service, labels_present):
    client, anna = service.client, service.anna
    project = new_project(client, anna, f"labels {labels_present}")
    if labels_present:
        x, y = digits(6, seed=8)
        import_samples(client, anna, project["id"], x[y == 4], y[y == 4])
    response = client.post(trainings_url(project["id"]), json={"architecture": "mlp"}, headers=anna.headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "dataset_too_small"
    assert "2 labels" in response.json()["detail"]


# ------------------------------------------------------------------------------------------ the live stream

@pytest.mark.slow
def test_stream_from_the_start_follows_the_schema_and_order(world):
    assert_valid_messages(message_validator(), world.live)
    messages = [m for m in world.live if m["type"] != "queue"]  # its place while it waited, if it did (not stored)
    assert all(m["training_id"] == world.training["id"] for m in messages)
    types = [m["type"] for m in messages]
    assert types[0] == "status" and messages[0]["status"] in ("queued", "running") and messages[0]["epochs"] == EPOCHS
    assert types[1] == "started"
    assert types[-1] == "end" and types.count("end") == 1 and types.count("started") == 1
    assert set(types[2:-1]) <= {"progress", "epoch"}
    # Stored messages are numbered 0, 1, 2 ... with no gap or repeat.
    stored = messages[1:-1]
    assert [m["seq"] for m in stored] == list(range(len(stored)))

    started = messages[1]
    assert (started["train_samples"], started["val_samples"], started["test_samples"]) == (240, 30, 30)
    assert started["total_params"] == 89_610 and started["epochs"] == EPOCHS

    epochs = [m for m in messages if m["type"] == "epoch"]
    assert [m["epoch"] for m in epochs] == list(range(1, EPOCHS + 1))
    for m in epochs:
        assert np.isfinite(m["loss"]) and np.isfinite(m["val_loss"]) and m["seconds"] > 0
    assert epochs[-1]["val_accuracy"] > 0.3  # it learnt something in 4 epochs
    # Progress within an epoch comes before that epoch's own `epoch` message.
    current = 1
    for m in stored:
        if m["type"] == "progress":
            assert m["epoch"] == current and 0 <= m["fraction"] < 1
        elif m["type"] == "epoch":
            current = m["epoch"] + 1

    end = messages[-1]
    assert end["status"] == "succeeded" and end["error"] is None
    assert end["epochs_run"] == EPOCHS and end["stopped"] == "completed"
    assert 0 <= end["test"]["accuracy"] <= 1 and end["test"]["loss"] > 0


def test_the_message_models_say_what_the_shared_schema_says():
    """The server builds every stream message with the models of digitlab.training.schemas (the OpenAPI document
    shows them): the same message types, fields and allowed values as shared/schemas/training-message.schema.json,
    and at least its required fields."""
    shared = json.loads(MESSAGE_SCHEMA_PATH.read_text())
    generated = training_message.json_schema()
    definitions = generated["$defs"]

    def resolve(schema: dict) -> dict:
        return definitions[schema["$ref"].rpartition("/")[2]] if "$ref" in schema else schema

    def allowed(schema: dict) -> set | None:
        """The values a property may take when it is a closed set (enum, const, or those or null)."""
        schema = resolve(schema)
        if "enum" in schema:
            return set(schema["enum"])
        if "const" in schema:
            return {schema["const"]}
        if "anyOf" in schema:
            parts = [{None} if part.get("type") == "null" else allowed(part) for part in schema["anyOf"]]
            return None if None in parts else set().union(*parts)
        return None

    models = {kind: resolve({"$ref": ref}) for kind, ref in generated["discriminator"]["mapping"].items()}
    assert set(models) == set(shared["properties"]["type"]["enum"])
    for branch in shared["oneOf"]:
        kind = branch["properties"]["type"]["const"]
        model = models[kind]
        properties = {"type", "training_id"} | set(branch["properties"])
        assert set(model["properties"]) == properties, kind
        required = set(shared["required"]) | set(branch["required"])
        assert required <= set(model.get("required", [])) | {"type"}, kind
        for name, schema in branch["properties"].items():
            if "enum" in schema or "const" in schema:
                assert allowed(model["properties"][name]) == allowed(schema), (kind, name)


@pytest.mark.slow
def test_socket_closes_normally_after_the_end(world):
    assert world.close_code == 1000


@pytest.mark.slow
def test_two_clients_watching_at_once_see_the_same_stream(world):
    assert_valid_messages(message_validator(), world.together)
    assert events_of(world.together) == events_of(world.live)


@pytest.mark.slow
def test_a_late_client_gets_the_whole_history_then_the_end(world, finished):
    client = world.client
    with client.websocket_connect(socket_url(world.training, world.anna)) as ws:
        late = read_until_end(ws, timeout=30)
    assert_valid_messages(message_validator(), late)
    assert late[0] == {"type": "status", "training_id": world.training["id"], "status": "succeeded", "epochs": EPOCHS}
    assert events_of(late) == events_of(world.live)  # started, every epoch, the end
    # Reconnecting gives exactly the same again.
    with client.websocket_connect(socket_url(world.training, world.anna)) as ws:
        assert read_until_end(ws, timeout=30) == late


@pytest.mark.slow
def test_rest_history_equals_the_websocket_messages(world, finished):
    response = world.client.get(f"{trainings_url(world.project['id'], world.training['id'])}/history",
                                headers=world.anna.headers)
    assert response.status_code == 200
    history = response.json()
    assert_valid_messages(message_validator(), history)
    with world.client.websocket_connect(socket_url(world.training, world.anna)) as ws:
        assert history == read_until_end(ws, timeout=30)
    assert events_of(history) == events_of(world.live)


@pytest.mark.slow
def test_only_the_owner_can_open_the_socket(world):
    client, anna, ben = world.client, world.anna, world.ben
    training = world.training
    bens_project = new_project(client, ben, "ben's")
    annas_other = new_project(client, anna, "anna's other")
    refused = [
        socket_url(training, ben),
        socket_url(training, token=""),
        socket_url(training, token="not-a-token"),
        training["websocket_url"],  # no token at all
        f"/api/projects/{bens_project['id']}/trainings/{training['id']}/ws?token={ben.token}",
        f"/api/projects/{annas_other['id']}/trainings/{training['id']}/ws?token={anna.token}",
        f"/api/projects/{training['project_id']}/trainings/999999/ws?token={anna.token}",
    ]
    not_authenticated = refused[1:4]
    for url in refused:
        with pytest.raises(WebSocketDisconnect) as refusal:
            with client.websocket_connect(url) as ws:
                receive_json(ws, timeout=10)
        # A close code the client can act on: log in again, or there is no such training (for you).
        assert refusal.value.code == (4401 if url in not_authenticated else 4404), url
    # An API token (what a learning platform uses) of the owner is fine.
    api_token = client.post("/api/auth/api-tokens", json={"name": "moodle"}, headers=anna.headers).json()["token"]
    with client.websocket_connect(socket_url(training, token=api_token)) as ws:
        assert receive_json(ws, timeout=10)["type"] == "status"


@pytest.mark.slow
def test_the_token_travels_in_a_subprotocol_or_header_instead_of_the_address(world):
    """Browsers offer ["digitlab.bearer", token]; the server picks only "digitlab.bearer" (never echoes the
    token). REST clients may send the Authorization header. Neither puts the token in a logged URL."""
    client, anna, ben = world.client, world.anna, world.ben
    url = world.training["websocket_url"]
    with client.websocket_connect(url, subprotocols=["digitlab.bearer", anna.token]) as ws:
        assert ws.accepted_subprotocol == "digitlab.bearer"
        assert receive_json(ws, timeout=10)["type"] == "status"
    with client.websocket_connect(url, headers={"Authorization": f"Bearer {anna.token}"}) as ws:
        assert receive_json(ws, timeout=10)["type"] == "status"
    for subprotocols in (["digitlab.bearer", ben.token], ["digitlab.bearer"], ["something", anna.token]):
        with pytest.raises(WebSocketDisconnect) as refusal:
            with client.websocket_connect(url, subprotocols=subprotocols) as ws:
                receive_json(ws, timeout=10)
        assert refusal.value.code in (4401, 4404), subprotocols


# ------------------------------------------------------------------------------------------ the project's trainings

@pytest.mark.slow
def test_list_shows_each_training_with_settings_and_final_figures(world, finished):
    client, anna = world.client, world.anna
    listed = client.get(trainings_url(world.project["id"]), headers=anna.headers).json()
    assert [t["id"] for t in listed] == sorted((t["id"] for t in listed), reverse=True)  # newest first
    [item] = [t for t in listed if t["id"] == world.training["id"]]
    assert item == finished
    assert item["status"] == "succeeded" and item["progress"] == 1.0 and item["error"] is None
    assert item["architecture"] == "mlp" and item["activation"] == "relu"
    assert item["settings"] == {"epochs": EPOCHS, "batch_size": 32, "learning_rate": 0.002, "val_fraction": 0.1,
                                "test_fraction": 0.1, "seed": SEED, **DEFAULT_GENERALISATION}
    losses = [m["val_loss"] for m in world.live if m["type"] == "epoch"]
    assert item["best_epoch"] == losses.index(min(losses)) + 1
    assert item["summary"]["total_params"] == 89_610
    assert item["labels"] == list(DIGITS)
    assert item["epochs_run"] == EPOCHS and item["stopped"] == "completed"
    end = world.live[-1]
    assert item["test_loss"] == pytest.approx(end["test"]["loss"])
    assert item["test_accuracy"] == pytest.approx(end["test"]["accuracy"])
    last_epoch = [m for m in world.live if m["type"] == "epoch"][-1]
    assert item["final_epoch"] == {k: v for k, v in last_epoch.items() if k not in ("type", "training_id", "seq")}
    assert item["finished_at"] and item["created_at"] <= item["finished_at"]
    assert item["websocket_url"] == f"/api/projects/{world.project['id']}/trainings/{item['id']}/ws"
    # The split is stratified: 24/3/3 of every label.
    assert item["dataset"] == {"train": dict.fromkeys(DIGITS, 24), "val": dict.fromkeys(DIGITS, 3),
                               "test": dict.fromkeys(DIGITS, 3)}
    job = client.get(f"/api/jobs/{item['job_id']}", headers=anna.headers).json()
    assert job["status"] == "succeeded" and job["kind"] == "training"


@pytest.mark.slow
def test_a_finished_training_cannot_be_cancelled(world, finished):
    response = world.client.post(f"{trainings_url(world.project['id'], world.training['id'])}/cancel",
                                 headers=world.anna.headers)
    assert response.status_code == 409, response.text
    assert response.json()["code"]


def test_unknown_training_is_404(service):
    client, anna = service.client, service.anna
    for path in ("", "/history", "/evaluation", "/confusion/0/0"):
        response = client.get(trainings_url(service.project["id"], 10**6) + path, headers=anna.headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


# ------------------------------------------------------------------------------------------ cancelling

@pytest.fixture(scope="module")
def cancelled(service) -> dict:
    """A CNN training for 50 epochs, cancelled once it has reported its first epoch."""
    client, anna = service.client, service.anna
    training = start_training(client, anna, service.project["id"], architecture="cnn", epochs=50)
    url = trainings_url(service.project["id"], training["id"])
    answer = {}

    def cancel_after_first_epoch(message: dict) -> None:
        if message["type"] == "epoch" and not answer:
            answer["response"] = client.post(f"{url}/cancel", headers=anna.headers)

    with client.websocket_connect(socket_url(training, anna)) as ws:
        messages = read_until_end(ws, on_message=cancel_after_first_epoch)
    history = client.get(f"{url}/history", headers=anna.headers).json()
    return {"training": training, "messages": messages, "cancel": answer.get("response"), "history": history}


@pytest.mark.slow
def test_cancel_a_running_training(service, cancelled):
    client, anna = service.client, service.anna
    assert cancelled["cancel"] is not None, "the training ended before its first epoch"
    assert cancelled["cancel"].status_code == 200, cancelled["cancel"].text
    assert cancelled["cancel"].json()["status"] in ("running", "cancelled")
    messages = cancelled["messages"]
    assert_valid_messages(message_validator(), messages)
    end = messages[-1]
    assert end["type"] == "end" and end["status"] == "cancelled" and end["test"] is None and end["error"] is None
    epochs = [m["epoch"] for m in messages if m["type"] == "epoch"]
    assert 1 <= len(epochs) < 50 and epochs == list(range(1, len(epochs) + 1))
    url = trainings_url(service.project["id"], cancelled["training"]["id"])
    training = client.get(url, headers=anna.headers).json()
    assert training["status"] == "cancelled" and training["test_accuracy"] is None
    job = client.get(f"/api/jobs/{training['job_id']}", headers=anna.headers).json()
    assert job["status"] == "cancelled"
    # The worker really stopped: nothing more is added to the stream.
    time.sleep(1.5)
    assert client.get(f"{url}/history", headers=anna.headers).json() == cancelled["history"]
    # A cancelled training has no evaluation or model, and cannot be cancelled twice.
    for path in ("/evaluation", "/confusion/0/0", "/files/model.onnx"):
        response = client.get(url + path, headers=anna.headers)
        assert response.status_code == 409, (path, response.text)
        assert response.json()["code"] == "training_not_finished"
    drawing_upload = {"image": ("d.png", drawing(service.x[0]), "image/png")}
    response = client.post(f"{url}/predict", files=drawing_upload, headers=anna.headers)
    assert response.status_code == 409 and response.json()["code"] == "training_not_finished"
    assert client.post(f"{url}/cancel", headers=anna.headers).status_code == 409


@pytest.mark.slow
def test_cancelled_training_reports_the_epochs_it_ran(service, cancelled):
    """The stream showed N epochs; the end message and the training list must not say 0."""
    epochs = sum(m["type"] == "epoch" for m in cancelled["history"])
    end = cancelled["history"][-1]
    training = service.client.get(trainings_url(service.project["id"], cancelled["training"]["id"]),
                                headers=service.anna.headers).json()
    assert (end["epochs_run"], end["stopped"]) == (epochs, "cancelled"), end
    assert (training["epochs_run"], training["stopped"]) == (epochs, "cancelled")


@pytest.mark.slow
def test_defaults_and_cancelling_straight_away(service):
    client, anna = service.client, service.anna
    training = start_training(client, anna, service.project["id"])
    assert training["architecture"] == "mlp" and training["activation"] == "relu"
    assert training["settings"] == {"epochs": 30, "batch_size": 32, "learning_rate": 0.002, "val_fraction": 0.1,
                                    "test_fraction": 0.1, "seed": 0, **DEFAULT_GENERALISATION}
    assert training["best_epoch"] is None  # not before it has finished
    assert training["status"] in ("queued", "running")
    url = trainings_url(service.project["id"], training["id"])
    assert client.post(f"{url}/cancel", headers=anna.headers).status_code == 200
    with client.websocket_connect(socket_url(training, anna)) as ws:
        messages = read_until_end(ws, timeout=60)
    assert_valid_messages(message_validator(), messages)
    assert messages[-1]["status"] == "cancelled"
    assert wait_for_training(client, anna, training, timeout=30)["status"] == "cancelled"


def test_early_stopping_setting_is_kept(service):
    client, anna = service.client, service.anna
    training = start_training(client, anna, service.project["id"], epochs=3, early_stopping=2, seed=4,
                              learning_rate=0.01, batch_size=16, val_fraction=0.2, test_fraction=0.15,
                              augmentation={"rotation": 5, "shift": 0, "zoom": 0.2, "stroke": 1, "elastic": 1.5},
                              lr_schedule="constant")
    client.post(f"{trainings_url(service.project['id'], training['id'])}/cancel", headers=anna.headers)
    assert training["settings"] == {"epochs": 3, "batch_size": 16, "learning_rate": 0.01, "val_fraction": 0.2,
                                    "test_fraction": 0.15, "seed": 4, "early_stopping": 2, "lr_schedule": "constant",
                                    "augmentation": {"rotation": 5, "shift": 0, "zoom": 0.2, "stroke": 1,
                                                     "elastic": 1.5}}
    wait_for_training(client, anna, training, timeout=30)


def test_augmentation_and_early_stopping_can_be_switched_off(service):
    client, anna = service.client, service.anna
    training = start_training(client, anna, service.project["id"], epochs=3, augmentation=None, early_stopping=None)
    client.post(f"{trainings_url(service.project['id'], training['id'])}/cancel", headers=anna.headers)
    assert training["settings"]["augmentation"] is None and training["settings"]["early_stopping"] is None
    wait_for_training(client, anna, training, timeout=120)
    wait_for_training(client, anna, training, timeout=30)


# ------------------------------------------------------------------------------------------ evaluation

@pytest.mark.slow
def test_evaluation_figures_agree_with_each_other(world, evaluation, finished):
    e = evaluation
    confusion = np.array(e["confusion"])
    assert e["training_id"] == world.training["id"] and e["labels"] == list(DIGITS)
    assert confusion.shape == (10, 10)
    assert e["count"] == confusion.sum() == 30
    assert confusion.sum(axis=1).tolist() == [3] * 10  # stratified test part
    assert e["accuracy"] == pytest.approx(np.trace(confusion) / e["count"])
    assert e["accuracy"] == pytest.approx(finished["test_accuracy"]) and e["loss"] == pytest.approx(finished["test_loss"])
    assert [p["label"] for p in e["per_label"]] == list(DIGITS)
    for i, p in enumerate(e["per_label"]):
        assert p["count"] == confusion[i].sum() and p["correct"] == confusion[i, i]
        assert p["accuracy"] == pytest.approx(p["correct"] / p["count"])


@pytest.mark.slow
def test_misclassified_and_gallery_samples_are_real_test_images(world, evaluation):
    e = evaluation
    confusion = np.array(e["confusion"])
    wrong = e["misclassified"]
    assert len(wrong) == e["count"] - np.trace(confusion)
    assert [w["confidence"] for w in wrong] == sorted((w["confidence"] for w in wrong), reverse=True)
    assert len(e["gallery"]) == min(40, e["count"])
    assert {g["test_index"] for g in e["gallery"]} == set(range(e["count"]))  # 30 test samples: all shown
    flat = world.x.reshape(len(world.x), -1)
    for sample in wrong + e["gallery"]:
        assert sample["true"] in DIGITS and sample["predicted"] in DIGITS
        assert sample["correct"] == (sample["true"] == sample["predicted"])
        assert 0 < sample["confidence"] <= 1
        image = data_url_image(sample["image"])
        assert image.shape == (28, 28) and image.dtype == np.uint8
        assert image.mean() > 128 and image.min() < 128  # dark ink on white
        # It is one of the imported samples, with its own label.
        [match] = np.flatnonzero((flat == (255 - image).reshape(-1)).all(axis=1))
        assert DIGITS[world.y[match]] == sample["true"]
    for w in wrong:
        assert not w["correct"]
    # The gallery includes every mistake, as the same samples.
    gallery = {g["test_index"]: g for g in e["gallery"]}
    for w in wrong:
        assert gallery[w["test_index"]] == w


@pytest.mark.slow
def test_every_confusion_cell_lists_its_samples(world, evaluation):
    client, anna = world.client, world.anna
    base = trainings_url(world.project["id"], world.training["id"])
    confusion = evaluation["confusion"]
    seen = set()
    for t in range(10):
        for p in range(10):
            response = client.get(f"{base}/confusion/{t}/{p}", headers=anna.headers)
            assert response.status_code == 200, response.text
            samples = response.json()
            assert len(samples) == confusion[t][p], (t, p)
            for sample in samples:
                assert (sample["true"], sample["predicted"]) == (DIGITS[t], DIGITS[p])
                assert sample["image"].startswith("data:image/png;base64,")
                seen.add(sample["test_index"])
    assert seen == set(range(evaluation["count"]))
    for t, p in ((10, 0), (0, 10), (-1, 0)):
        response = client.get(f"{base}/confusion/{t}/{p}", headers=anna.headers)
        assert response.status_code == 404, (t, p, response.text)


# ------------------------------------------------------------------------------------------ the stream's edge cases

@pytest.mark.slow
def test_deleting_the_project_ends_the_stream_cleanly(service):
    """A student watching a training whose project is deleted (by the teacher, in another tab) gets a proper
    ending: an `end` message or a normal close, not an error. Hardening point 4 exactly: another user's new
    project and training right after the deletion get new ids (never the deleted ones), so the old socket
    cannot turn into a view of them."""
    client, anna, ben = service.client, service.anna, service.ben
    project = new_project(client, anna, "doomed")
    x, y = digits(10, seed=12)
    import_samples(client, anna, project["id"], x, y)
    training = start_training(client, anna, project["id"], architecture="cnn", epochs=50)
    with client.websocket_connect(socket_url(training, anna)) as ws:
        assert receive_json(ws, timeout=60)["type"] == "status"
        assert client.delete(f"/api/projects/{project['id']}", headers=anna.headers).status_code == 204
        bens = new_project(client, ben, "next")
        import_samples(client, ben, bens["id"], x, y)
        bens_training = start_training(client, ben, bens["id"], architecture="mlp", epochs=1)
        assert bens["id"] > project["id"] and bens_training["id"] > training["id"]
        received = []
        try:
            while not received or received[-1]["type"] != "end":
                received.append(receive_json(ws, timeout=30))
        except WebSocketDisconnect as exc:
            assert type(exc) is WebSocketDisconnect, f"{type(exc).__name__}: an HTTP error response after accept"
            assert exc.code in (1000, 1001, 1008), exc.code
        else:
            assert received[-1]["status"] == "cancelled", received[-1]


@pytest.mark.slow
def test_a_socket_stops_the_moment_its_training_is_no_longer_the_watchers(service):
    """Hardening point 4: a socket checked ownership only at connect; when the id later named another user's
    training, it streamed that user's messages. Access is now checked on every read: when the training's
    project belongs to someone else (here moved in the database, as a reused id once did), the watcher gets
    an end message and the socket closes, and nothing of the new owner's training reaches them."""
    from digitlab.core.db import unit_of_work
    from digitlab.projects.tables import Project

    client, anna, ben = service.client, service.anna, service.ben
    project = new_project(client, anna, "watched")
    x, y = digits(10, seed=14)
    import_samples(client, anna, project["id"], x, y)
    training = start_training(client, anna, project["id"], architecture="cnn", epochs=50)
    ben_id = client.get("/api/auth/me", headers=ben.headers).json()["id"]
    with client.websocket_connect(socket_url(training, anna)) as ws:
        assert receive_json(ws, timeout=60)["type"] == "status"
        with unit_of_work(client.app.state.engine) as session:
            moved = session.get(Project, project["id"])
            assert moved is not None
            moved.owner_id = ben_id
        received = []
        try:
            while not received or received[-1]["type"] != "end":
                received.append(receive_json(ws, timeout=30))
        except WebSocketDisconnect:
            pass
    assert received and received[-1]["type"] == "end", received
    assert received[-1]["status"] == "cancelled" and received[-1]["epochs_run"] == 0
    client.post(f"{trainings_url(project['id'], training['id'])}/cancel", headers=ben.headers)


@pytest.mark.slow
def test_a_restart_during_training_ends_it_as_failed_with_a_reason(tmp_path):
    settings = make_settings(tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        anna = new_user(client, "anna")
        project = new_project(client, anna)
        x, y = digits(10, seed=13)
        import_samples(client, anna, project["id"], x, y)
        training = start_training(client, anna, project["id"], architecture="cnn", epochs=50)
        with client.websocket_connect(socket_url(training, anna)) as ws:
            while receive_json(ws, timeout=60)["type"] != "started":
                pass
    # The service stopped with the worker mid-training; it starts again on the same data.
    with TestClient(create_app(settings)) as client:
        after = client.get(trainings_url(project["id"], training["id"]), headers=anna.headers).json()
        assert after["status"] == "failed" and "restart" in after["error"].lower()
        with client.websocket_connect(socket_url(training, anna)) as ws:
            messages = read_until_end(ws, timeout=30)
        assert_valid_messages(message_validator(), messages)
        assert messages[-1]["status"] == "failed" and messages[-1]["error"] == after["error"]
        for name in ("model.onnx", "model.keras", "card.json"):
            assert client.get(f"{trainings_url(project['id'], training['id'])}/files/{name}",
                              headers=anna.headers).status_code == 409
    assert not list((settings.files_dir / "projects" / str(project["id"])).glob("trainings/*/model.*"))
