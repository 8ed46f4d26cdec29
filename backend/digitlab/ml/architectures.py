"""Network layer lists: presets, validation and a Keras-identical summary — pure Python, no TensorFlow.

A network is a list of layer specs applied to the 28x28x1 input. The list is the *whole* network:
its last layer must be the output layer ``Dense(n_labels, activation="softmax")`` (one probability
per label). Presets include it; for a custom list, append it yourself or call
:func:`with_output_layer`. The output layer is validated, never added silently, so the stored list is
exactly the network that is trained, summarised and exported.

:func:`validate` computes every layer's name, output shape and parameter count with the same
arithmetic Keras uses, so the API can check a layer list and show its summary without the ~3 s,
~600 MB TensorFlow import. The names are the Keras layer names of the built model and the output
names of the exported ONNX graph.

Rules beyond Keras' own (chosen to give students clear errors instead of surprises):

- ``Dense`` needs a flat input: put ``Flatten`` before it. (Keras would apply a Dense on a 3-D
  tensor to the last axis only, which is almost never what a student means.)
- ``Conv2D`` and ``MaxPooling2D`` need an image (height x width x channels) input, and their kernel,
  pool size and strides may not be larger than the image they see, whatever the padding ('same'
  padding with a kernel larger than the image only multiplies zeros; TensorFlow aborts the process on
  e.g. a 1000x1000 kernel over 28x28).
- At most ``MAX_UNITS`` units per Dense layer and ``MAX_FILTERS`` filters per Conv2D layer.
- Hidden layers use ``relu``, ``tanh`` or ``sigmoid``; ``softmax`` belongs to the output layer only.
- A network has at most ``max_layers`` layers and ``max_params`` parameters.

Parameters are not what fills a training's memory: every layer's output is kept for each sample of a
batch, for the backward pass. :func:`estimate_training_memory` estimates a training's peak memory from
the shapes and the batch size (calibrated against measured trainings, see the constants below), and
:func:`check_training_memory` refuses a training that would need more than a limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from digitlab.core.contract import CANVAS_SIDE

INPUT_SHAPE: tuple[int, int, int] = (CANVAS_SIDE, CANVAS_SIDE, 1)
HIDDEN_ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "sigmoid")
OUTPUT_ACTIVATION = "softmax"
PADDINGS: tuple[str, ...] = ("valid", "same")
PRESETS: tuple[str, ...] = ("mlp", "cnn")
DEFAULT_MAX_LAYERS = 20
DEFAULT_MAX_PARAMS = 2_000_000  # ~8 MB of float32 weights: still quick to download into a browser
# Far beyond anything useful on 28x28 digits (the seed's networks use 100-128 units and 32-64 filters);
# they keep every single layer's arithmetic in a sane range before the memory check even runs.
MAX_UNITS = 8192
MAX_FILTERS = 1024
DEFAULT_MAX_TRAINING_MEMORY_MB = 3072  # 2 trainings side by side fit a 24 GB machine with room to spare


class ArchitectureError(ValueError):
    """A layer list that cannot be built. ``layer_index``/``layer_name`` are None for whole-network
    problems (empty list, too many layers, over the parameter budget). ``code`` is a machine word:
    ``invalid_network``, or ``training_memory_too_large`` from :func:`check_training_memory`."""

    def __init__(self, layer_index: int | None, layer_name: str | None, message: str, code: str = "invalid_network"):
        self.layer_index = layer_index
        self.layer_name = layer_name
        self.message = message
        self.code = code
        where = ""
        if layer_index is not None:
            where = f"Layer {layer_index + 1}" + (f" ({layer_name})" if layer_name else "") + ": "
        super().__init__(where + message)

    def to_dict(self) -> dict[str, Any]:
        return {"layer_index": self.layer_index, "layer_name": self.layer_name, "message": self.message}


class _Spec(BaseModel):
    # Field values are checked by validate() (with the layer's position in the message), not here,
    # so that a wrong value reaches validate() instead of failing somewhere earlier without context.
    # strict: a value of the wrong type is refused, never coerced ("units": "64" or true is not 64 or 1).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Dense(_Spec):
    kind: Literal["dense"] = "dense"
    units: int
    activation: Annotated[str, Field(json_schema_extra={"enum": [*HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATION]})] = "relu"


class Conv2D(_Spec):
    kind: Literal["conv2d"] = "conv2d"
    filters: int
    kernel_size: int = 3
    activation: Annotated[str, Field(json_schema_extra={"enum": list(HIDDEN_ACTIVATIONS)})] = "relu"
    padding: Annotated[str, Field(json_schema_extra={"enum": list(PADDINGS)})] = "valid"
    strides: int = 1


class MaxPooling2D(_Spec):
    kind: Literal["max_pooling2d"] = "max_pooling2d"
    pool_size: int = 2


class Flatten(_Spec):
    kind: Literal["flatten"] = "flatten"


class Dropout(_Spec):
    kind: Literal["dropout"] = "dropout"
    rate: float


LayerSpec = Annotated[Dense | Conv2D | MaxPooling2D | Flatten | Dropout, Field(discriminator="kind")]
_LAYER_ADAPTER: TypeAdapter = TypeAdapter(LayerSpec)


class LayerSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    index: int
    name: str  # Keras layer name == ONNX output name
    kind: str
    output_shape: tuple[int, ...]  # without the batch axis
    params: int
    activation: str | None
    spec: LayerSpec


class NetworkSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_shape: tuple[int, ...] = INPUT_SHAPE
    n_labels: int
    layers: list[LayerSummary]
    total_params: int

    @property
    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    @property
    def output_name(self) -> str:
        """Name of the softmax output layer."""
        return self.layers[-1].name

    def text(self) -> str:
        """A Keras-like table, handy in a notebook: ``print(validate(...).text())``."""
        rows = [
            (
                f"{s.name} ({_KERAS_CLASS[s.kind]})",
                "(None, " + ", ".join(map(str, s.output_shape)) + ")",
                f"{s.params:,}",
            )
            for s in self.layers
        ]
        head = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
        line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
        rule = "-" * (sum(widths) + 4)
        return "\n".join([line(head), rule, *map(line, rows), rule, f"Total params: {self.total_params:,}"])


_SPEC_CLASSES: dict[str, type[_Spec]] = {
    "dense": Dense,
    "conv2d": Conv2D,
    "max_pooling2d": MaxPooling2D,
    "flatten": Flatten,
    "dropout": Dropout,
}
_KERAS_CLASS = {
    "dense": "Dense",
    "conv2d": "Conv2D",
    "max_pooling2d": "MaxPooling2D",
    "flatten": "Flatten",
    "dropout": "Dropout",
}


def output_layer(n_labels: int) -> Dense:
    """The output layer every network ends with: one softmax probability per label."""
    return Dense(units=n_labels, activation=OUTPUT_ACTIVATION)


def with_output_layer(hidden: Sequence[LayerSpec], n_labels: int) -> list[LayerSpec]:
    """``hidden`` followed by the output layer (for UIs that let students edit only hidden layers)."""
    return [*hidden, output_layer(n_labels)]


def preset(name: str, n_labels: int, activation: str = "relu") -> list[LayerSpec]:
    """The seed notebook's networks, sized to ``n_labels``, output layer included.

    ``mlp``: Flatten -> Dense 100 -> Dense 100 -> Dense n softmax (89,610 parameters for n=10).
    ``cnn``: Conv2D 32 3x3 -> MaxPooling 2x2 -> Conv2D 64 3x3 -> MaxPooling 2x2 -> Flatten ->
    Dense 128 -> Dense n softmax (225,034 parameters for n=10).
    ``activation`` is the hidden layers' activation: relu, tanh or sigmoid.
    """
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"Unknown activation {activation!r}: choose one of {', '.join(HIDDEN_ACTIVATIONS)}.")
    if name == "mlp":
        hidden: list[LayerSpec] = [
            Flatten(),
            Dense(units=100, activation=activation),
            Dense(units=100, activation=activation),
        ]
    elif name == "cnn":
        hidden = [
            Conv2D(filters=32, kernel_size=3, activation=activation),
            MaxPooling2D(pool_size=2),
            Conv2D(filters=64, kernel_size=3, activation=activation),
            MaxPooling2D(pool_size=2),
            Flatten(),
            Dense(units=128, activation=activation),
        ]
    else:
        raise ValueError(f"Unknown preset {name!r}: choose one of {', '.join(PRESETS)}.")
    return with_output_layer(hidden, n_labels)


def parse_layers(raw: Sequence[Any]) -> list[LayerSpec]:
    """Layer specs from JSON-like dicts (or specs, passed through). Raises ArchitectureError naming
    the first layer that is not a known kind or has a wrong or unknown field."""
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Sequence):
        raise ArchitectureError(None, None, "The layers must be a list.")
    layers: list[LayerSpec] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        if isinstance(item, (Dense, Conv2D, MaxPooling2D, Flatten, Dropout)):  # a spec already
            layers.append(item)
            seen[item.kind] = seen.get(item.kind, 0) + 1
            continue
        kind = item.get("kind") if isinstance(item, Mapping) else None
        name = None
        if isinstance(kind, str) and kind in _KERAS_CLASS:
            name = kind if seen.get(kind, 0) == 0 else f"{kind}_{seen[kind]}"
            seen[kind] = seen.get(kind, 0) + 1
        if not isinstance(item, Mapping):
            raise ArchitectureError(index, None, f"Each layer must be an object with a 'kind', not {item!r}.")
        if kind not in _KERAS_CLASS:
            what = "needs a 'kind'" if kind is None else f"has the unknown kind {kind!r}"
            raise ArchitectureError(index, None, f"The layer {what}: use one of {', '.join(_KERAS_CLASS)}.")
        try:
            layers.append(_LAYER_ADAPTER.validate_python(item))
        except ValidationError as exc:
            raise ArchitectureError(index, name, _explain(exc, kind)) from None
    return layers


def _explain(exc: ValidationError, kind: str) -> str:
    errors = exc.errors()
    error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])  # typos first
    field = ".".join(str(part) for part in error["loc"][1:]) or kind
    if error["type"] == "extra_forbidden":
        known = [name for name in _SPEC_CLASSES[kind].model_fields if name != "kind"]
        return f"Unknown field {field!r} for a {kind} layer (its fields: {', '.join(known) or 'none'})."
    if error["type"] == "missing":
        return f"A {kind} layer needs {field!r}."
    return f"Field {field!r}: {error['msg']}."


def validate(
    layers: Sequence[LayerSpec | Mapping],
    n_labels: int,
    max_params: int | None = DEFAULT_MAX_PARAMS,
    max_layers: int = DEFAULT_MAX_LAYERS,
) -> NetworkSummary:
    """Check that ``layers`` is a buildable network for ``n_labels`` labels and summarise it.

    Returns the summary with Keras' layer names, output shapes (without batch axis) and parameter
    counts. Raises ArchitectureError for anything Keras could not build or that breaks the rules in
    this module's docstring. ``max_params=None`` disables the parameter budget.
    """
    specs = parse_layers(layers)
    if n_labels < 2:
        raise ArchitectureError(None, None, f"A classifier needs at least 2 labels, not {n_labels}.")
    if not specs:
        raise ArchitectureError(None, None, "The network has no layers.")
    if len(specs) > max_layers:
        raise ArchitectureError(None, None, f"The network has {len(specs)} layers; at most {max_layers} are allowed.")

    counters: dict[str, int] = {}
    shape: tuple[int, ...] = INPUT_SHAPE
    summaries: list[LayerSummary] = []
    last = len(specs) - 1
    for index, spec in enumerate(specs):
        count = counters.get(spec.kind, 0)
        counters[spec.kind] = count + 1
        name = spec.kind if count == 0 else f"{spec.kind}_{count}"

        def fail(message: str, index: int = index, name: str = name) -> ArchitectureError:
            return ArchitectureError(index, name, message)

        shape, params = _layer_output(spec, shape, index == last, fail)
        summaries.append(
            LayerSummary(
                index=index,
                name=name,
                kind=spec.kind,
                output_shape=shape,
                params=params,
                activation=getattr(spec, "activation", None),
                spec=spec,
            )
        )

    final = specs[-1]
    if not (isinstance(final, Dense) and final.activation == OUTPUT_ACTIVATION and final.units == n_labels):
        raise ArchitectureError(
            last,
            summaries[-1].name,
            f"The last layer must be the output layer: Dense with {n_labels} units "
            f"(one per label) and softmax activation.",
        )
    total = sum(s.params for s in summaries)
    if max_params is not None and total > max_params:
        biggest = max(summaries, key=lambda s: s.params)
        raise ArchitectureError(
            None,
            None,
            f"The network has {total:,} parameters, more than the limit of {max_params:,} "
            f"(the largest layer is {biggest.name} with {biggest.params:,}).",
        )
    return NetworkSummary(n_labels=n_labels, layers=summaries, total_params=total)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _positive_int(value: Any, what: str, fail, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(f"{what} must be a whole number of at least 1, not {value!r}.")
    if maximum is not None and value > maximum:
        raise fail(f"{what} may be at most {maximum:,}, not {value:,}.")
    return value


def _check_activation(activation: str, is_output: bool, fail) -> None:
    if activation == OUTPUT_ACTIVATION:
        if not is_output:
            raise fail("softmax is only for the output layer (the last one); use relu, tanh or sigmoid here.")
    elif activation not in HIDDEN_ACTIVATIONS:
        raise fail(f"Unknown activation {activation!r}: use one of {', '.join(HIDDEN_ACTIVATIONS)}.")


def _layer_output(spec: LayerSpec, shape: tuple[int, ...], is_output: bool, fail) -> tuple[tuple[int, ...], int]:
    """(output shape, parameter count) of one layer on an input of ``shape`` (no batch axis)."""
    if isinstance(spec, Dense):
        units = _positive_int(spec.units, "units", fail, MAX_UNITS)
        _check_activation(spec.activation, is_output, fail)
        if len(shape) != 1:
            raise fail(f"Dense needs a flat input but gets {_shape_text(shape)}: add a Flatten layer before it.")
        return (units,), shape[0] * units + units

    if isinstance(spec, Conv2D):
        filters = _positive_int(spec.filters, "filters", fail, MAX_FILTERS)
        kernel = _positive_int(spec.kernel_size, "kernel_size", fail)
        strides = _positive_int(spec.strides, "strides", fail)
        _check_activation(spec.activation, False, fail)
        if spec.padding not in PADDINGS:
            raise fail(f"Unknown padding {spec.padding!r}: use 'valid' or 'same'.")
        if len(shape) != 3:
            raise fail(
                f"Conv2D needs an image input (height x width x channels) but gets the flat {shape[0]} "
                "values: put convolutions before Flatten."
            )
        height, width, channels = shape
        if kernel > height or kernel > width:
            hint = "or padding 'same', " if spec.padding == "valid" else ""
            raise fail(
                f"The {kernel}x{kernel} kernel is larger than its {height}x{width} input "
                f"(use a smaller kernel, {hint}or less pooling before it)."
            )
        if strides > height or strides > width:
            raise fail(
                f"The stride {strides} is larger than the {height}x{width} input: use a stride of at "
                f"most {min(height, width)}."
            )
        if spec.padding == "valid":
            out_h, out_w = (height - kernel) // strides + 1, (width - kernel) // strides + 1
        else:
            out_h, out_w = math.ceil(height / strides), math.ceil(width / strides)
        return (out_h, out_w, filters), kernel * kernel * channels * filters + filters

    if isinstance(spec, MaxPooling2D):
        pool = _positive_int(spec.pool_size, "pool_size", fail)
        if len(shape) != 3:
            raise fail(
                f"MaxPooling2D needs an image input (height x width x channels) but gets the flat "
                f"{shape[0]} values: put pooling before Flatten."
            )
        height, width, channels = shape
        out_h, out_w = height // pool, width // pool
        if out_h < 1 or out_w < 1:  # the pool is larger than the image it sees
            raise fail(
                f"Pooling {pool}x{pool} on a {height}x{width} input leaves nothing: use a smaller "
                "pool_size or remove a pooling layer."
            )
        return (out_h, out_w, channels), 0

    if isinstance(spec, Flatten):
        return (math.prod(shape),), 0

    if isinstance(spec, Dropout):
        rate = spec.rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise fail(f"The dropout rate must be at least 0 and below 1, not {rate!r}.")
        return shape, 0

    raise fail(f"Unknown layer kind {getattr(spec, 'kind', type(spec).__name__)!r}.")


# ------------------------------------------------------------------------------------------ training memory
#
# A training's peak memory (resident set of the job process), for Adam on CPU with float32:
#
#   TRAINING_OVERHEAD_MB + parameters x BYTES_PER_PARAMETER + samples x DATASET_BYTES_PER_SAMPLE
#       + min(batch size, samples) x (input + every layer's output, per sample) x 4 B x ACTIVATION_COPIES
#
# Calibrated with benchmarks/training_memory.py (TensorFlow 2.21 / Keras 3 on CPU, oneDNN on), which runs
# a job's own steps (split, fit, predict, ONNX export) in a fresh process and reads its peak RSS (VmHWM):
# - Importing TensorFlow and the job code: 703 MB. The MLP preset (batch 32, 4,000 samples) peaks at
#   855-867 MB in all: TRAINING_OVERHEAD_MB = 900.
# - The layer outputs of one batch, kept for the backward pass, with their gradients and temporaries:
#   1.7-2.1 times their float32 size (slope between batch sizes; CNN preset 1,024 -> 4,096: 1.7, issue 8's
#   1x1x700 convolutions 16 -> 64: 1.8, two 128-filter 'same' convolutions 32 -> 1,024: 2.1). ACTIVATION_COPIES
#   = 3 leaves a margin. Kernels as large as the image (28x28 over 32 channels) cost no extra workspace.
# - Parameters: weights, gradients and Adam's two moments are 16 B each, but the ONNX export after the
#   fit (tf2onnx freezing and optimising the graph, then checking it in onnxruntime) peaks at ~235 B per
#   parameter (1.33 M parameters: +367 MB, 1.76 M: +461 MB, the CNN's 225 k: +104 MB): 256 B.
# - The dataset: 60,000 samples add 384 MB over 4,000 (6.9 kB per sample: float32 copies for the split
#   and TensorFlow's batches): 3 float32 images, 9.4 kB.
# Flatten is a reshape (no copy) and is not counted.
# Measured peak / estimate in MB (`.venv/bin/python benchmarks/training_memory.py`; bNN = batch size):
#   MLP b32, 4,000 samples 855/959; 60,000 samples 1,251/1,462 | CNN b32 906/1,005; b1,024 1,217/1,429;
#   b4,096 on 10,000 samples 2,004/2,794 | issue 8's network (400 samples) b16 1,286/1,448; b64 1,834/2,353 |
#   two 128-filter 'same' convolutions (1.76 M parameters) b32 1,370/1,428; b256 1,700/2,009; b1,024
#   3,240/4,014 | Dense 1,024-512 b4,096 1,298/1,474 | a 28x28 kernel over 32 channels b32 1,210/1,323.
#   Every estimate is above its measurement (ratio 0.72-0.96).
TRAINING_OVERHEAD_MB = 900
ACTIVATION_COPIES = 3
BYTES_PER_PARAMETER = 256
DATASET_BYTES_PER_SAMPLE = 3 * 4 * math.prod(INPUT_SHAPE)
_MB = 1024 * 1024


class MemoryEstimate(BaseModel):
    """Estimated peak memory of a training, in MB (rounded up), and what it is made of."""

    model_config = ConfigDict(frozen=True)

    batch_size: int
    samples: int
    total_mb: int
    activations_mb: int  # the layer outputs of one batch, with their gradients and temporaries
    parameters_mb: int  # weights, gradients, Adam's two moments, the ONNX export's copies
    dataset_mb: int
    overhead_mb: int  # TensorFlow and the job code
    per_sample_values: int  # input + layer outputs of one sample (float32 values)
    largest_layer: str | None  # the layer with the largest output, the first thing to make smaller


def _per_sample_values(summary: NetworkSummary) -> tuple[int, LayerSummary | None]:
    counted = [layer for layer in summary.layers if layer.kind != "flatten"]
    values = math.prod(summary.input_shape) + sum(math.prod(layer.output_shape) for layer in counted)
    return values, max(counted, key=lambda layer: math.prod(layer.output_shape), default=None)


def estimate_training_memory(summary: NetworkSummary, batch_size: int, samples: int = 0) -> MemoryEstimate:
    """The memory a training of ``summary`` with ``batch_size`` on a dataset of ``samples`` samples will
    need at its peak (see the calibration above; ``samples=0``: the dataset is not counted). Pure
    arithmetic: no TensorFlow."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"The batch size must be a whole number of at least 1, not {batch_size!r}.")
    per_sample, largest = _per_sample_values(summary)
    # A batch never holds more samples than there are (Keras' last batch is the remainder).
    batch = min(batch_size, samples) if samples > 0 else batch_size
    activations = batch * per_sample * 4 * ACTIVATION_COPIES
    parameters = summary.total_params * BYTES_PER_PARAMETER
    dataset = max(0, samples) * DATASET_BYTES_PER_SAMPLE
    parts = [math.ceil(part / _MB) for part in (activations, parameters, dataset)]
    return MemoryEstimate(
        batch_size=batch_size,
        samples=max(0, samples),
        total_mb=sum(parts) + TRAINING_OVERHEAD_MB,
        activations_mb=parts[0],
        parameters_mb=parts[1],
        dataset_mb=parts[2],
        overhead_mb=TRAINING_OVERHEAD_MB,
        per_sample_values=per_sample,
        largest_layer=largest.name if largest else None,
    )


def largest_batch_size(summary: NetworkSummary, max_mb: int, samples: int = 0) -> int:
    """The largest batch size whose estimate fits in ``max_mb`` (0 if even one sample does not fit)."""
    base = estimate_training_memory(summary, 1, samples)
    room = (max_mb - (base.total_mb - base.activations_mb)) * _MB
    return max(0, int(room // (base.per_sample_values * 4 * ACTIVATION_COPIES)))


def check_training_memory(
    summary: NetworkSummary, batch_size: int, max_mb: int | None, samples: int = 0
) -> MemoryEstimate:
    """The estimate, or ArchitectureError (code ``training_memory_too_large``) if it exceeds ``max_mb``.
    The message says what takes the memory and what to change. ``max_mb=None`` only estimates."""
    estimate = estimate_training_memory(summary, batch_size, samples)
    if max_mb is None or estimate.total_mb <= max_mb:
        return estimate
    largest = next((layer for layer in summary.layers if layer.name == estimate.largest_layer), None)
    where = ""
    if largest is not None:
        where = (
            f" The largest layer output is {largest.name}'s {_shape_text(largest.output_shape)} values per "
            f"sample, and every layer's output is kept for each sample of a batch."
        )
    fits = largest_batch_size(summary, max_mb, samples)
    if fits >= 1:
        advice = f" Use a batch size of at most {fits:,}, or fewer filters or units."
    elif largest is not None:
        advice = (
            " Even a batch of one sample is too much: use fewer filters or units, or pooling or strides "
            "to make the images smaller early."
        )
    else:
        advice = " The dataset itself is too large for one training."
    raise ArchitectureError(
        None,
        None,
        f"Training this network with a batch size of {batch_size:,} would need about "
        f"{estimate.total_mb:,} MB of memory, more than the limit of {max_mb:,} MB.{where}{advice}",
        code="training_memory_too_large",
    )
