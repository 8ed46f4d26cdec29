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
- ``Conv2D`` and ``MaxPooling2D`` need an image (height x width x channels) input.
- Hidden layers use ``relu``, ``tanh`` or ``sigmoid``; ``softmax`` belongs to the output layer only.
- A network has at most ``max_layers`` layers and ``max_params`` parameters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

INPUT_SHAPE: tuple[int, int, int] = (28, 28, 1)
HIDDEN_ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "sigmoid")
OUTPUT_ACTIVATION = "softmax"
PADDINGS: tuple[str, ...] = ("valid", "same")
PRESETS: tuple[str, ...] = ("mlp", "cnn")
DEFAULT_MAX_LAYERS = 20
DEFAULT_MAX_PARAMS = 2_000_000  # ~8 MB of float32 weights: still quick to download into a browser


class ArchitectureError(ValueError):
    """A layer list that cannot be built. ``layer_index``/``layer_name`` are None for whole-network
    problems (empty list, too many layers, over the parameter budget)."""

    def __init__(self, layer_index: int | None, layer_name: str | None, message: str):
        self.layer_index = layer_index
        self.layer_name = layer_name
        self.message = message
        where = ""
        if layer_index is not None:
            where = f"Layer {layer_index + 1}" + (f" ({layer_name})" if layer_name else "") + ": "
        super().__init__(where + message)

    def to_dict(self) -> dict[str, Any]:
        return {"layer_index": self.layer_index, "layer_name": self.layer_name, "message": self.message}


class _Spec(BaseModel):
    # Field values are checked by validate() (with the layer's position in the message), not here,
    # so that a wrong value reaches validate() instead of failing somewhere earlier without context.
    model_config = ConfigDict(extra="forbid", frozen=True)


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
        rows = [(f"{s.name} ({_KERAS_CLASS[s.kind]})", "(None, " + ", ".join(map(str, s.output_shape)) + ")",
                 f"{s.params:,}") for s in self.layers]
        head = ("Layer (type)", "Output Shape", "Param #")
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
        line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
        rule = "-" * (sum(widths) + 4)
        return "\n".join([line(head), rule, *map(line, rows), rule, f"Total params: {self.total_params:,}"])


_SPEC_CLASSES: dict[str, type[_Spec]] = {"dense": Dense, "conv2d": Conv2D, "max_pooling2d": MaxPooling2D,
                                         "flatten": Flatten, "dropout": Dropout}
_KERAS_CLASS = {"dense": "Dense", "conv2d": "Conv2D", "max_pooling2d": "MaxPooling2D",
                "flatten": "Flatten", "dropout": "Dropout"}


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
        hidden: list[LayerSpec] = [Flatten(), Dense(units=100, activation=activation),
                                   Dense(units=100, activation=activation)]
    elif name == "cnn":
        hidden = [Conv2D(filters=32, kernel_size=3, activation=activation), MaxPooling2D(pool_size=2),
                  Conv2D(filters=64, kernel_size=3, activation=activation), MaxPooling2D(pool_size=2),
                  Flatten(), Dense(units=128, activation=activation)]
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
        if isinstance(item, _Spec):
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


def validate(layers: Sequence[LayerSpec | Mapping], n_labels: int, max_params: int | None = DEFAULT_MAX_PARAMS,
             max_layers: int = DEFAULT_MAX_LAYERS) -> NetworkSummary:
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

        def fail(message: str) -> ArchitectureError:
            return ArchitectureError(index, name, message)

        shape, params = _layer_output(spec, shape, index == last, fail)
        summaries.append(LayerSummary(index=index, name=name, kind=spec.kind, output_shape=shape, params=params,
                                      activation=getattr(spec, "activation", None), spec=spec))

    final = specs[-1]
    if not (isinstance(final, Dense) and final.activation == OUTPUT_ACTIVATION and final.units == n_labels):
        raise ArchitectureError(last, summaries[-1].name,
                                f"The last layer must be the output layer: Dense with {n_labels} units "
                                f"(one per label) and softmax activation.")
    total = sum(s.params for s in summaries)
    if max_params is not None and total > max_params:
        biggest = max(summaries, key=lambda s: s.params)
        raise ArchitectureError(None, None,
                                f"The network has {total:,} parameters, more than the limit of {max_params:,} "
                                f"(the largest layer is {biggest.name} with {biggest.params:,}).")
    return NetworkSummary(n_labels=n_labels, layers=summaries, total_params=total)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _positive_int(value: Any, what: str, fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise fail(f"{what} must be a whole number of at least 1, not {value!r}.")
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
        units = _positive_int(spec.units, "units", fail)
        _check_activation(spec.activation, is_output, fail)
        if len(shape) != 1:
            raise fail(f"Dense needs a flat input but gets {_shape_text(shape)}: add a Flatten layer before it.")
        return (units,), shape[0] * units + units

    if isinstance(spec, Conv2D):
        filters = _positive_int(spec.filters, "filters", fail)
        kernel = _positive_int(spec.kernel_size, "kernel_size", fail)
        strides = _positive_int(spec.strides, "strides", fail)
        _check_activation(spec.activation, False, fail)
        if spec.padding not in PADDINGS:
            raise fail(f"Unknown padding {spec.padding!r}: use 'valid' or 'same'.")
        if len(shape) != 3:
            raise fail(f"Conv2D needs an image input (height x width x channels) but gets the flat {shape[0]} "
                       "values: put convolutions before Flatten.")
        height, width, channels = shape
        if spec.padding == "valid":
            if kernel > height or kernel > width:
                raise fail(f"The {kernel}x{kernel} kernel is larger than its {height}x{width} input "
                           "(use a smaller kernel, padding 'same', or less pooling before it).")
            out_h, out_w = (height - kernel) // strides + 1, (width - kernel) // strides + 1
        else:
            out_h, out_w = math.ceil(height / strides), math.ceil(width / strides)
        return (out_h, out_w, filters), kernel * kernel * channels * filters + filters

    if isinstance(spec, MaxPooling2D):
        pool = _positive_int(spec.pool_size, "pool_size", fail)
        if len(shape) != 3:
            raise fail(f"MaxPooling2D needs an image input (height x width x channels) but gets the flat "
                       f"{shape[0]} values: put pooling before Flatten.")
        height, width, channels = shape
        out_h, out_w = height // pool, width // pool
        if out_h < 1 or out_w < 1:
            raise fail(f"Pooling {pool}x{pool} on a {height}x{width} input leaves nothing: use a smaller "
                       "pool_size or remove a pooling layer.")
        return (out_h, out_w, channels), 0

    if isinstance(spec, Flatten):
        return (math.prod(shape),), 0

    if isinstance(spec, Dropout):
        rate = spec.rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise fail(f"The dropout rate must be at least 0 and below 1, not {rate!r}.")
        return shape, 0

    raise fail(f"Unknown layer kind {getattr(spec, 'kind', type(spec).__name__)!r}.")
