"""Save a trained Keras model (.keras) and export it to ONNX with every layer's activation as an output.

The ONNX graph has one input, ``input`` (float32, [batch, 28, 28, 1], values in [0, 1]), and one
output per layer, named after the layer (``conv2d``, ``max_pooling2d``, ..., ``dense_1``); the last
is the softmax. One run therefore gives the prediction and everything the browser draws.
``metadata_props`` describe the contract (see :func:`onnx_metadata`).

tf2onnx cannot convert a Keras 3 ``Sequential`` directly (tf2onnx #2448, #2348); converting a
functional wrapper whose outputs are the layers' outputs works. Every export is checked: onnxruntime
must reproduce Keras' activations on probe inputs, or :class:`ExportError` is raised.
TensorFlow, tf2onnx and onnx are imported inside the functions.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digitlab.core.contract import CANVAS_SIDE, CONTRACT_VERSION
from digitlab.ml import _tf
from digitlab.ml.architectures import INPUT_SHAPE

OPSET = 17
INPUT_NAME = "input"
METADATA_VERSION = "1"
VERIFY_TOLERANCE = 1e-4  # absolute, and relative to the activation's size

_KINDS = {
    "Dense": "dense",
    "Conv2D": "conv2d",
    "MaxPooling2D": "max_pooling2d",
    "Flatten": "flatten",
    "Dropout": "dropout",
}


class ExportError(RuntimeError):
    """The ONNX conversion failed or does not reproduce the Keras model."""


def _atomic_write(path: Path, write) -> Path:
    """Write through ``write(temporary_path)`` next to ``path`` and rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_keras(model: Any, path: str | Path) -> Path:
    """Save as a ``.keras`` file (architecture, weights, optimizer state), atomically."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"A Keras model file must end in .keras: {path.name}")
    return _atomic_write(path, lambda tmp: model.save(tmp))


def load_keras(path: str | Path) -> Any:
    return _tf.keras().models.load_model(Path(path))


def layer_info(model: Any) -> list[dict[str, Any]]:
    """Name, kind, activation, output shape (batch 1) and parameter count of each layer."""
    info = []
    for layer in model.layers:
        kind = _KINDS.get(type(layer).__name__)
        if kind is None:
            raise ExportError(f"Layer {layer.name!r} is a {type(layer).__name__}, which Digit Lab does not export.")
        activation = getattr(layer, "activation", None)
        info.append(
            {
                "name": layer.name,
                "kind": kind,
                "activation": getattr(activation, "__name__", None) if activation is not None else None,
                "output_shape": [1, *(int(d) for d in layer.output.shape[1:])],
                "params": int(layer.count_params()),
            }
        )
    return info


def onnx_metadata(model: Any, labels: Sequence[str]) -> dict[str, str]:
    """The ``metadata_props`` written into the ONNX file (all values strings; JSON where structured)."""
    layers = layer_info(model)
    if layers[-1]["output_shape"] != [1, len(labels)]:
        raise ExportError(f"The model has {layers[-1]['output_shape'][-1]} outputs for {len(labels)} labels.")
    return {
        "digitlab_metadata_version": METADATA_VERSION,
        "labels": json.dumps([str(label) for label in labels]),
        "input_name": INPUT_NAME,
        "input_shape": json.dumps([1, *INPUT_SHAPE]),
        "input_range": json.dumps([0, 1]),
        "input_description": f"float32 NHWC; 0 = background, 1 = ink; a {CANVAS_SIDE}x{CANVAS_SIDE} sample made by "
        "the preprocessing contract, divided by 255",
        "preprocessing_contract": CONTRACT_VERSION,  # the contract the inputs follow (shared/preprocessing)
        "output_name": layers[-1]["name"],
        "layers": json.dumps(layers),
        "total_params": str(sum(layer["params"] for layer in layers)),
    }


def activation_model(model: Any) -> Any:
    """A functional Keras model with the same input whose outputs are every layer's output, in order."""
    keras = _tf.keras()
    return keras.Model(model.inputs[0], [layer.output for layer in model.layers], name=f"{model.name}_activations")


def _rename_outputs(graph: Any, renames: dict[str, str]) -> None:
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for value in [*graph.output, *graph.value_info]:
        if value.name in renames:
            value.name = renames[value.name]


def to_onnx(model: Any, labels: Sequence[str], *, verify: bool = True) -> bytes:
    """The ONNX model (opset 17) as bytes: input ``input``, one output per layer named after it,
    metadata from :func:`onnx_metadata`. Raises ExportError if conversion or verification fails."""
    tf = _tf.tensorflow()
    import onnx
    import tf2onnx

    metadata = onnx_metadata(model, labels)
    names = [layer.name for layer in model.layers]
    if len(set(names)) != len(names):
        raise ExportError(f"Layer names must be unique to name the ONNX outputs: {names}")
    wrapper = activation_model(model)
    signature = (tf.TensorSpec((None, *INPUT_SHAPE), tf.float32, name=INPUT_NAME),)
    try:
        proto, _ = tf2onnx.convert.from_keras(wrapper, input_signature=signature, opset=OPSET)
    except Exception as exc:  # tf2onnx raises many kinds of errors
        raise ExportError(f"ONNX conversion failed: {exc}") from exc

    graph = proto.graph
    produced = [output.name for output in graph.output]
    if len(produced) != len(names):
        raise ExportError(f"ONNX conversion produced {len(produced)} outputs for {len(names)} layers.")
    if produced != names:
        # tf2onnx orders outputs like the wrapper's outputs; rename any it named differently.
        _rename_outputs(graph, {old: new for old, new in zip(produced, names, strict=True) if old != new})
    if [i.name for i in graph.input] != [INPUT_NAME]:
        raise ExportError(f"Unexpected ONNX inputs {[i.name for i in graph.input]}.")

    for value in [*graph.input, *graph.output]:  # tf2onnx calls the batch axis "unk__N"
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_param = "batch"
    proto.doc_string = "Digit Lab classifier: every layer's activation is an output; the last is the softmax."
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    if verify:
        _verify(wrapper, data, names)
    return data


def export_onnx(model: Any, labels: Sequence[str], path: str | Path, *, verify: bool = True) -> Path:
    """Write :func:`to_onnx` to ``path`` atomically."""
    data = to_onnx(model, labels, verify=verify)
    return _atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))


def probe_inputs(count: int = 6, seed: int = 0) -> np.ndarray:
    """Inputs that exercise the network: blank, full ink, and random strokes-like noise in [0, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.random((count, *INPUT_SHAPE), dtype=np.float32)
    x[0] = 0.0
    x[1] = 1.0
    x[2:] *= rng.random((count - 2, 1, 1, 1), dtype=np.float32) > 0.3  # some blank-ish, some noisy
    return x


def _verify(wrapper: Any, data: bytes, names: list[str]) -> None:
    from digitlab.ml.onnx_runtime import OnnxModel

    x = probe_inputs()
    expected = [np.asarray(a) for a in wrapper(x, training=False)]
    actual = OnnxModel(data).run(x, activations=True).activations
    for name, want in zip(names, expected, strict=True):
        got = actual[name]
        if got.shape != want.shape:
            raise ExportError(f"ONNX output {name!r} has shape {got.shape}, Keras {want.shape}.")
        excess = np.abs(got - want) - VERIFY_TOLERANCE * (1 + np.abs(want))
        if got.size and not np.max(excess) <= 0:  # also catches NaN
            error = float(np.max(np.abs(got - want)))
            raise ExportError(f"ONNX output {name!r} differs from Keras by up to {error:.2e}.")
