"""Helpers for the training and model tests: synthetic datasets, starting trainings, reading the live stream.

Helpers only (no tests, no fixtures): test_training.py, test_models.py and test_access.py import them.
"""

import base64
import io
import json
import time
from pathlib import Path

import anyio
import cv2
import numpy as np
from jsonschema import Draft202012Validator

from digitlab.ml.synthetic import make_digits
from tests.conftest import UserHandle, job_finished, wait_until

REPO = Path(__file__).resolve().parents[2]
MESSAGE_SCHEMA_PATH = REPO / "shared" / "schemas" / "training-message.schema.json"
DIGITS = "0123456789"

# Exact sizes of the presets for ten labels (the seed notebook's networks).
MLP_LAYERS = [("flatten", "flatten", [784], 0, None), ("dense", "dense", [100], 78_500, "relu"),
              ("dense_1", "dense", [100], 10_100, "relu"), ("dense_2", "dense", [10], 1_010, "softmax")]
CNN_LAYERS = [("conv2d", "conv2d", [26, 26, 32], 320, "relu"), ("max_pooling2d", "max_pooling2d", [13, 13, 32], 0, None),
              ("conv2d_1", "conv2d", [11, 11, 64], 18_496, "relu"),
              ("max_pooling2d_1", "max_pooling2d", [5, 5, 64], 0, None), ("flatten", "flatten", [1600], 0, None),
              ("dense", "dense", [128], 204_928, "relu"), ("dense_1", "dense", [10], 1_290, "softmax")]


def message_validator() -> Draft202012Validator:
    schema = json.loads(MESSAGE_SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def assert_valid_messages(validator: Draft202012Validator, messages: list[dict]) -> None:
    for message in messages:
        errors = sorted(validator.iter_errors(message), key=str)
        assert not errors, f"{message} breaks the schema: {[e.message for e in errors]}"


# ------------------------------------------------------------------------------------------ datasets

def digits(n_per_label: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """make_digits: uint8 (N, 28, 28) with ink = 255, label indices (N,)."""
    return make_digits(n_per_label, DIGITS, seed=seed)


def npz_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.savez(out, x_train=x, y_train=np.asarray(y, dtype=np.uint8))
    return out.getvalue()


def import_samples(client, user: UserHandle, project_id: int, x: np.ndarray, y: np.ndarray) -> dict:
    response = client.post(f"/api/projects/{project_id}/dataset/import", headers=user.headers,
                           files={"file": ("mnist.npz", npz_bytes(x, y), "application/octet-stream")})
    assert response.status_code == 201, response.text
    assert response.json()["imported"] == len(y)
    return response.json()


# ------------------------------------------------------------------------------------------ trainings

def trainings_url(project_id: int, training_id: int | None = None) -> str:
    base = f"/api/projects/{project_id}/trainings"
    return base if training_id is None else f"{base}/{training_id}"


def start_training(client, user: UserHandle, project_id: int, **body) -> dict:
    response = client.post(trainings_url(project_id), json=body, headers=user.headers)
    assert response.status_code == 202, response.text
    return response.json()


def wait_for_training(client, user: UserHandle, training: dict, timeout: float = 180.0) -> dict:
    url = trainings_url(training["project_id"], training["id"])
    return wait_until(lambda: client.get(url, headers=user.headers).json(), job_finished, timeout,
                      f"training {training['id']}")


def socket_url(training: dict, user: UserHandle | None = None, token: str | None = None) -> str:
    token = token if token is not None else user.token
    return f"{training['websocket_url']}?token={token}"


def receive_json(ws, timeout: float = 120.0) -> dict:
    """ws.receive_json() with a deadline (the TestClient's own receive waits forever, hanging the run)."""

    async def receive():
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(receive)
    ws._raise_on_close(message)  # a close frame becomes WebSocketDisconnect(code)
    return json.loads(message["text"])


def read_until_end(ws, first: list[dict] | None = None, timeout: float = 180.0,
                   on_message=None) -> list[dict]:  # noqa: ANN001
    """Every message up to and including `end` (the server must send one before the deadline)."""
    messages = list(first or [])
    deadline = time.monotonic() + timeout
    while not messages or messages[-1]["type"] != "end":
        left = deadline - time.monotonic()
        assert left > 0, f"no end message within {timeout} s; got {[m['type'] for m in messages]}"
        messages.append(receive_json(ws, left))
        if on_message is not None:
            on_message(messages[-1])
    return messages


def events_of(messages: list[dict]) -> list[dict]:
    """The stored part of a stream: everything but the leading `status` and the `queue` messages (which say where
    it stands *now*)."""
    assert messages[0]["type"] == "status"
    return [message for message in messages[1:] if message["type"] != "queue"]


# ------------------------------------------------------------------------------------------ images

def data_url_image(url: str) -> np.ndarray:
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix), url[:40]
    data = base64.b64decode(url[len(prefix):])
    assert data.startswith(b"\x89PNG")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None
    return image


def png(image: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def drawing(sample: np.ndarray, side: int = 200, canvas: tuple[int, int] | None = None) -> bytes:
    """A 28x28 sample (ink = 255) as someone would draw it: dark ink on white, scaled up to `side` x `side`
    pixels, optionally placed off-centre on a larger white canvas of (width, height)."""
    scaled = cv2.resize(sample, (side, side), interpolation=cv2.INTER_LINEAR)
    width, height = canvas or (side, side)
    page = np.zeros((height, width), np.uint8)
    top, left = (height - side) // 3, (width - side) // 4
    page[top:top + side, left:left + side] = scaled
    return png(255 - page)
