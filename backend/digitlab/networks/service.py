"""Trained networks: downloads, and predictions with onnxruntime (never TensorFlow in this process)."""

import threading
from collections import OrderedDict

import numpy as np

from digitlab.core.errors import invalid, not_found
from digitlab.core.storage import FileStorage
from digitlab.datasets.formats import image_to_ink
from digitlab.ml.onnx_runtime import OnnxModel
from digitlab.pipeline import normalize_sample
from digitlab.pipeline.decode import ImageRejected, decode_file
from digitlab.training.service import model_key
from digitlab.training.tables import Training

DOWNLOADS = {
    "model.onnx": "application/octet-stream",
    "model.keras": "application/octet-stream",
    "card.json": "application/json",
}
MAX_DRAWING_PIXELS = 4_000_000
_CACHE_SIZE = 8


class _ModelCache:
    """A few loaded ONNX sessions (creating one costs far more than running it)."""

    def __init__(self, size: int):
        self.size = size
        self._models: OrderedDict[str, OnnxModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, storage: FileStorage, key: str) -> OnnxModel:
        path = storage.path(key)
        stat = path.stat()
        # The file's identity, not its id-based name: ids can be reused after a delete (SQLite), and
        # several apps in one process have different storage roots.
        identity = f"{path}:{stat.st_ino}:{stat.st_size}:{stat.st_mtime_ns}"
        with self._lock:
            model = self._models.get(identity)
            if model is not None:
                self._models.move_to_end(identity)
                return model
        model = OnnxModel(path.read_bytes())
        with self._lock:
            self._models[identity] = model
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return model


_cache = _ModelCache(_CACHE_SIZE)


def download(storage: FileStorage, training: Training, name: str) -> bytes:
    if name not in DOWNLOADS:
        raise not_found("File")
    key = model_key(training, name)
    if not storage.exists(key):
        raise not_found("Model file")
    return storage.read(key)


def drawing_to_input(data: bytes) -> np.ndarray:
    """A PNG of a drawing (any size, dark on light or light on dark) -> the 28x28 model input in [0, 1]."""
    try:
        page = decode_file(data, max_pixels=MAX_DRAWING_PIXELS, max_pages=1).pages[0]
    except ImageRejected as exc:
        raise invalid(exc.message, exc.code) from None
    return normalize_sample(image_to_ink(page.gray))


def predict(storage: FileStorage, training: Training, data: bytes, with_activations: bool) -> dict:
    key = model_key(training, "model.onnx")
    if not storage.exists(key):
        raise not_found("Model file")
    model = _cache.get(storage, key)
    x = drawing_to_input(data)
    result = model.run(x, activations=with_activations)
    probabilities = result.probabilities[0].astype(float)
    best = int(probabilities.argmax())
    answer = {
        "training_id": training.id,
        "labels": model.labels,
        "probabilities": [round(p, 6) for p in probabilities.tolist()],
        "predicted": model.labels[best],
        "confidence": float(probabilities[best]),
        "input": np.round(x, 4).tolist(),
    }
    if with_activations:
        answer["activations"] = {
            name: {"shape": list(values.shape[1:]), "values": values[0].ravel().tolist()}
            for name, values in result.activations.items()
        }
    return answer
