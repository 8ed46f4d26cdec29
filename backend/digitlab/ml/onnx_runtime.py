"""Run an exported Digit Lab ONNX model with onnxruntime — numpy only, no TensorFlow.

model = OnnxModel("model.onnx")
probabilities = model.predict(images)              # (N, n_labels)
result = model.run(image, activations=True)        # + every layer's activation by name
model.labels, model.layers, model.metadata         # from the file's metadata_props
"""

from __future__ import annotations

import contextlib
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.ml.data import IMAGE_SIDE, prepare_images

_JSON_KEYS = ("labels", "input_shape", "input_range", "layers")


@dataclass(frozen=True)
class InferenceResult:
    probabilities: np.ndarray  # (N, n_labels)
    activations: dict[str, np.ndarray] = field(default_factory=dict)  # layer name -> (N, ...)

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


def _session(source: str | Path | bytes, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads  # one sample is tiny: a single thread has the lowest latency
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    model = source if isinstance(source, bytes) else str(Path(source))
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def _decode(raw: dict[str, str]) -> dict[str, Any]:
    metadata: dict[str, Any] = dict(raw)
    for key in _JSON_KEYS:
        if key in metadata:
            with contextlib.suppress(ValueError):
                metadata[key] = json.loads(metadata[key])
    return metadata


def read_metadata(source: str | Path | bytes) -> dict[str, Any]:
    """The model's metadata_props, with the JSON values (labels, input_shape, input_range, layers) decoded."""
    return _decode(_session(source, 1).get_modelmeta().custom_metadata_map)


class OnnxModel:
    """A loaded ONNX classifier. Works with any model whose input is [N, 28, 28, 1]; the labels,
    layer list and softmax output come from the Digit Lab metadata when present (otherwise: labels
    "0".."n-1", the last graph output)."""

    def __init__(self, source: str | Path | bytes, *, threads: int = 1):
        self.session = _session(source, threads)
        self.metadata = _decode(self.session.get_modelmeta().custom_metadata_map)
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"Expected a model with one input, got {len(inputs)}.")
        self.input_name: str = inputs[0].name
        self.output_names: list[str] = [output.name for output in self.session.get_outputs()]
        self.output_name: str = self.metadata.get("output_name", self.output_names[-1])
        if self.output_name not in self.output_names:
            raise ValueError(f"The metadata names the output {self.output_name!r}, which the model lacks.")
        labels = self.metadata.get("labels")
        if not isinstance(labels, list):
            n_outputs = self.session.get_outputs()[self.output_names.index(self.output_name)].shape[-1]
            labels = [str(i) for i in range(n_outputs)] if isinstance(n_outputs, int) else []
        self.labels: list[str] = labels
        self.layers: list[dict[str, Any]] = self.metadata.get("layers") or [
            {"name": name} for name in self.output_names
        ]

    @property
    def layer_names(self) -> list[str]:
        return [layer["name"] for layer in self.layers]

    def predict(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Probabilities (N, n_labels) for one 28x28 image or a batch (uint8 0..255 or float [0, 1]).
        With ``batch_size``, the images go through the network that many at a time, so the memory a run
        takes is bounded by the batch rather than by the number of images."""
        images = np.asarray(images)
        if batch_size is not None and images.ndim > 2 and len(images) > batch_size:
            # Converted to float batch by batch too: the uint8 images are the only full-size copy.
            return np.concatenate([self.predict(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
        (probabilities,) = self.session.run([self.output_name], {self.input_name: prepare_images(images)})
        return probabilities

    def run(self, images: np.ndarray, activations: bool = True) -> InferenceResult:
        """Probabilities and, if ``activations``, every output (each layer's activation) by name."""
        if not activations:
            return InferenceResult(self.predict(images))
        outputs = self.session.run(self.output_names, {self.input_name: prepare_images(images)})
        by_name = dict(zip(self.output_names, outputs, strict=True))
        return InferenceResult(by_name[self.output_name], by_name)

    def classify(self, image: np.ndarray) -> tuple[str, float]:
        """(label, probability) of the most likely label for one image."""
        probabilities = self.predict(image)[0]
        best = int(probabilities.argmax())
        return self.labels[best], float(probabilities[best])


def benchmark_latency(
    model: OnnxModel, runs: int = 1000, warmup: int = 50, activations: bool = True
) -> dict[str, float]:
    """CPU latency of single-sample inference (all layer outputs when ``activations``), in milliseconds."""
    x = np.random.default_rng(0).random((1, IMAGE_SIDE, IMAGE_SIDE, 1), dtype=np.float32)
    names = model.output_names if activations else [model.output_name]
    feed = {model.input_name: x}
    for _ in range(warmup):
        model.session.run(names, feed)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        model.session.run(names, feed)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "runs": runs,
        "median_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (runs - 1))],
        "mean_ms": statistics.fmean(times),
        "min_ms": times[0],
    }
