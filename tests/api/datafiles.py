"""Dataset files the API tests import: Keras-style mnist.npz and zips of `<label>_<n>.png` (helpers only)."""

import io
import zipfile

import cv2
import numpy as np


def random_digits(count: int, seed: int = 0) -> np.ndarray:
    """MNIST-like uint8 (count, 28, 28): black background, a bright random blob in the middle."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), np.uint8)
    images[:, 6:22, 8:20] = rng.integers(60, 256, (count, 16, 12), dtype=np.uint8)
    return images


def mnist_npz(y_train, y_test=None, *, seed: int = 0, **extra) -> bytes:
    """An mnist.npz with random images for the given label indices (x_test/y_test only if y_test given)."""
    y_train = np.asarray(y_train, dtype=np.uint8)
    arrays = {"x_train": random_digits(len(y_train), seed), "y_train": y_train}
    if y_test is not None:
        y_test = np.asarray(y_test, dtype=np.uint8)
        arrays |= {"x_test": random_digits(len(y_test), seed + 1), "y_test": y_test}
    arrays |= extra
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def npz_of(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return out.getvalue()


def load_npz(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def decode_png(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, "not a PNG"
    return image


def upload_npz(client, user, project_id: int, data: bytes, name: str = "mnist.npz"):
    return client.post(f"/api/projects/{project_id}/dataset/import", headers=user.headers,
                       files={"file": (name, data, "application/octet-stream")})
