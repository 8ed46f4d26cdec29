"""Layer specs, presets and the pure-Python summary (no TensorFlow here; Keras parity is in test_ml_keras_parity)."""

import pytest

from digitlab.ml import architectures as A
from digitlab.ml.architectures import ArchitectureError, Conv2D, Dense, Dropout, Flatten, MaxPooling2D


def error_of(layers, n_labels=10, **options) -> ArchitectureError:
    with pytest.raises(ArchitectureError) as caught:
        A.validate(layers, n_labels, **options)
    return caught.value


def test_mlp_preset_matches_the_seed_network():
    summary = A.validate(A.preset("mlp", 10), 10)
    assert summary.total_params == 89_610
    assert [(s.name, s.kind, s.output_shape, s.params) for s in summary.layers] == [
        ("flatten", "flatten", (784,), 0),
        ("dense", "dense", (100,), 78_500),
        ("dense_1", "dense", (100,), 10_100),
        ("dense_2", "dense", (10,), 1_010),
    ]
    assert summary.output_name == "dense_2"


def test_cnn_preset_matches_the_seed_network():
    summary = A.validate(A.preset("cnn", 10), 10)
    assert summary.total_params == 225_034
    assert [(s.name, s.output_shape, s.params) for s in summary.layers] == [
        ("conv2d", (26, 26, 32), 320),
        ("max_pooling2d", (13, 13, 32), 0),
        ("conv2d_1", (11, 11, 64), 18_496),
        ("max_pooling2d_1", (5, 5, 64), 0),
        ("flatten", (1600,), 0),
        ("dense", (128,), 204_928),
        ("dense_1", (10,), 1_290),
    ]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_presets_switch_hidden_activation_and_size_the_output(name, activation):
    layers = A.preset(name, 4, activation)
    summary = A.validate(layers, 4)
    hidden = [s.activation for s in summary.layers[:-1] if s.activation]
    assert hidden and set(hidden) == {activation}
    assert summary.layers[-1].spec == Dense(units=4, activation="softmax")
    assert summary.layers[-1].output_shape == (4,)


def test_unknown_preset_or_activation():
    with pytest.raises(ValueError, match="preset"):
        A.preset("resnet", 10)
    with pytest.raises(ValueError, match="activation"):
        A.preset("mlp", 10, "gelu")


def test_custom_network_shapes_and_names():
    layers = [
        Conv2D(filters=8, kernel_size=5, padding="same", strides=2, activation="tanh"),  # 14x14x8
        Dropout(rate=0.25),
        Conv2D(filters=4, kernel_size=3, strides=2),  # (14-3)//2+1 = 6
        MaxPooling2D(pool_size=4),  # 1x1x4
        Flatten(),
        Dense(units=7, activation="sigmoid"),
        Dropout(rate=0.0),
        Dense(units=3, activation="softmax"),
    ]
    summary = A.validate(layers, 3)
    assert summary.layer_names == ["conv2d", "dropout", "conv2d_1", "max_pooling2d", "flatten", "dense",
                                   "dropout_1", "dense_1"]
    assert [s.output_shape for s in summary.layers] == [(14, 14, 8), (14, 14, 8), (6, 6, 4), (1, 1, 4), (4,),
                                                        (7,), (7,), (3,)]
    assert [s.params for s in summary.layers] == [5 * 5 * 8 + 8, 0, 3 * 3 * 8 * 4 + 4, 0, 0, 4 * 7 + 7, 0, 7 * 3 + 3]
    assert summary.total_params == sum(s.params for s in summary.layers)
    assert "Total params: 559" in summary.text()


def test_same_padding_allows_a_kernel_larger_than_its_input():
    layers = [MaxPooling2D(pool_size=7), Conv2D(filters=2, kernel_size=5, padding="same"), Flatten(),
              Dense(units=2, activation="softmax")]
    assert A.validate(layers, 2).layers[1].output_shape == (4, 4, 2)


def test_json_layers_are_parsed_and_round_trip():
    raw = [{"kind": "conv2d", "filters": 4}, {"kind": "max_pooling2d"}, {"kind": "flatten"},
           {"kind": "dense", "units": 10, "activation": "softmax"}]
    summary = A.validate(raw, 10)
    assert summary.layers[0].spec == Conv2D(filters=4, kernel_size=3, activation="relu", padding="valid", strides=1)
    dumped = [layer.spec.model_dump() for layer in summary.layers]
    assert A.validate(dumped, 10) == summary
    assert summary.model_dump(mode="json")["layers"][0]["output_shape"] == [26, 26, 4]


def test_with_output_layer_appends_the_softmax():
    layers = A.with_output_layer([Flatten(), Dense(units=16)], 5)
    assert A.validate(layers, 5).layers[-1].spec == A.output_layer(5)


@pytest.mark.parametrize("layers, index, name, fragment", [
    ([Dense(units=10, activation="softmax")], 0, "dense", "add a Flatten layer"),
    ([Flatten(), Conv2D(filters=4), Flatten(), Dense(units=10, activation="softmax")], 1, "conv2d",
     "before Flatten"),
    ([Flatten(), MaxPooling2D(), Dense(units=10, activation="softmax")], 1, "max_pooling2d", "before Flatten"),
    ([Conv2D(filters=4, kernel_size=29), Flatten(), Dense(units=10, activation="softmax")], 0, "conv2d",
     "larger than its 28x28 input"),
    ([MaxPooling2D(pool_size=4), MaxPooling2D(pool_size=4), Conv2D(filters=2, kernel_size=2),
      Flatten(), Dense(units=10, activation="softmax")], 2, "conv2d", "larger than its 1x1 input"),
    ([MaxPooling2D(pool_size=8), MaxPooling2D(pool_size=4), Flatten(), Dense(units=10, activation="softmax")], 1,
     "max_pooling2d_1", "leaves nothing"),
    ([Dropout(rate=1.0), Flatten(), Dense(units=10, activation="softmax")], 0, "dropout", "below 1"),
    ([Dropout(rate=-0.1), Flatten(), Dense(units=10, activation="softmax")], 0, "dropout", "at least 0"),
    ([Flatten(), Dense(units=10, activation="gelu"), Dense(units=10, activation="softmax")], 1, "dense", "gelu"),
    ([Conv2D(filters=4, activation="softmax"), Flatten(), Dense(units=10, activation="softmax")], 0, "conv2d",
     "softmax"),
    ([Flatten(), Dense(units=10, activation="softmax"), Dense(units=10, activation="softmax")], 1, "dense",
     "only for the output layer"),
    ([Conv2D(filters=4, padding="full"), Flatten(), Dense(units=10, activation="softmax")], 0, "conv2d", "padding"),
    ([Conv2D(filters=0), Flatten(), Dense(units=10, activation="softmax")], 0, "conv2d", "filters"),
    ([Conv2D(filters=4, strides=0), Flatten(), Dense(units=10, activation="softmax")], 0, "conv2d", "strides"),
    ([Flatten(), Dense(units=0), Dense(units=10, activation="softmax")], 1, "dense", "units"),
    ([Flatten(), Dense(units=16)], 1, "dense", "must be the output layer"),
    ([Flatten(), Dense(units=9, activation="softmax")], 1, "dense", "10 units"),
    ([Flatten(), Dense(units=16), Dropout(rate=0.5)], 2, "dropout", "must be the output layer"),
])
def test_impossible_networks_name_the_layer(layers, index, name, fragment):
    error = error_of(layers)
    assert (error.layer_index, error.layer_name) == (index, name)
    assert fragment in error.message
    assert error.to_dict() == {"layer_index": index, "layer_name": name, "message": error.message}
    assert str(error).startswith(f"Layer {index + 1} ({name}): ")


def test_whole_network_errors():
    assert "no layers" in error_of([]).message
    too_many = [Dropout(rate=0.1)] * 20 + [Flatten(), Dense(units=10, activation="softmax")]
    error = error_of(too_many)
    assert error.layer_index is None and "22 layers" in error.message
    assert A.validate(too_many, 10, max_layers=22).total_params == 7850
    assert "at least 2 labels" in error_of(A.preset("mlp", 1), n_labels=1).message


def test_parameter_budget():
    assert A.validate(A.preset("cnn", 10), 10, max_params=225_034).total_params == 225_034
    error = error_of(A.preset("cnn", 10), max_params=225_033)
    assert error.layer_index is None
    assert "225,034 parameters" in error.message and "225,033" in error.message and "dense" in error.message
    huge = [Flatten(), Dense(units=100_000), Dense(units=10, activation="softmax")]
    assert error_of(huge).layer_index is None
    assert A.validate(huge, 10, max_params=None).total_params == 784 * 100_000 + 100_000 + 1_000_010


@pytest.mark.parametrize("raw, index, name, fragment", [
    ("dense", None, None, "must be a list"),
    ([{"kind": "flatten"}, "dense"], 1, None, "must be an object"),
    ([{"units": 3}], 0, None, "needs a 'kind'"),
    ([{"kind": "lstm", "units": 3}], 0, None, "unknown kind 'lstm'"),
    ([{"kind": "flatten"}, {"kind": "dense", "units": 3}, {"kind": "dense"}], 2, "dense_1", "needs 'units'"),
    ([{"kind": "flatten"}, {"kind": "dense", "unit": 3}], 1, "dense", "Unknown field 'unit'"),
    ([{"kind": "flatten"}, {"kind": "dense", "units": "many"}], 1, "dense", "'units'"),
    ([{"kind": "flatten"}, {"kind": "dense", "units": 2.5}], 1, "dense", "'units'"),
    ([{"kind": "dropout", "rate": 1.5}], 0, "dropout", "below 1"),
    ([{"kind": "conv2d", "filters": 2, "activation": "swish"}], 0, "conv2d", "swish"),
])
def test_json_errors_name_the_layer(raw, index, name, fragment):
    error = error_of(raw)
    assert (error.layer_index, error.layer_name) == (index, name)
    assert fragment in error.message


def test_specs_are_immutable_and_schema_lists_choices():
    layer = Dense(units=3)
    with pytest.raises(Exception):
        layer.units = 4
    schema = Conv2D.model_json_schema()
    assert schema["properties"]["activation"]["enum"] == ["relu", "tanh", "sigmoid"]
    assert schema["properties"]["padding"]["enum"] == ["valid", "same"]
