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


def test_same_padding_allows_a_kernel_as_large_as_its_input_but_not_larger():
    layers = [MaxPooling2D(pool_size=7), Conv2D(filters=2, kernel_size=4, padding="same"), Flatten(),
              Dense(units=2, activation="softmax")]
    assert A.validate(layers, 2).layers[1].output_shape == (4, 4, 2)
    # Issue 8: a 1000x1000 kernel with 'same' padding passed and TensorFlow aborted the worker (exit -6).
    for kernel in (5, 1000):
        error = error_of([MaxPooling2D(pool_size=7), Conv2D(filters=2, kernel_size=kernel, padding="same"),
                          Flatten(), Dense(units=2, activation="softmax")], 2)
        assert (error.layer_index, error.layer_name) == (1, "conv2d")
        assert f"{kernel}x{kernel} kernel is larger than its 4x4 input" in error.message


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
    huge = [Flatten(), Dense(units=8_000), Dense(units=10, activation="softmax")]
    assert error_of(huge).layer_index is None
    assert A.validate(huge, 10, max_params=None).total_params == 784 * 8_000 + 8_000 + 80_010


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


# ------------------------------------------------------------------------------------------ issue 8: shapes

SOFTMAX = Dense(units=10, activation="softmax")


@pytest.mark.parametrize("layers, index, name, fragment", [
    ([Conv2D(filters=4, kernel_size=1000, padding="same"), Flatten(), SOFTMAX], 0, "conv2d",
     "1000x1000 kernel is larger than its 28x28 input"),
    ([Conv2D(filters=4, kernel_size=29, padding="same"), Flatten(), SOFTMAX], 0, "conv2d", "larger than"),
    ([Conv2D(filters=4, strides=29), Flatten(), SOFTMAX], 0, "conv2d", "stride 29 is larger"),
    ([MaxPooling2D(pool_size=4), Conv2D(filters=4, kernel_size=1, strides=8), Flatten(), SOFTMAX], 1, "conv2d",
     "at most 7"),
    ([MaxPooling2D(pool_size=1000), Flatten(), SOFTMAX], 0, "max_pooling2d", "leaves nothing"),
    ([Conv2D(filters=A.MAX_FILTERS + 1, kernel_size=1), Flatten(), SOFTMAX], 0, "conv2d", "at most 1,024"),
    ([Flatten(), Dense(units=A.MAX_UNITS + 1), SOFTMAX], 1, "dense", "at most 8,192"),
    ([Flatten(), Dense(units=10**30), SOFTMAX], 1, "dense", "units may be at most"),
])
def test_shapes_tensorflow_cannot_or_should_not_run_are_refused(layers, index, name, fragment):
    error = error_of(layers)
    assert (error.layer_index, error.layer_name) == (index, name)
    assert fragment in error.message
    assert error.code == "invalid_network"


def test_limits_still_admit_their_edges():
    summary = A.validate([Conv2D(filters=A.MAX_FILTERS, kernel_size=28, padding="same", strides=28), Flatten(),
                          Dense(units=A.MAX_UNITS), SOFTMAX], 10, max_params=None)
    assert summary.layers[0].output_shape == (1, 1, A.MAX_FILTERS)


# ------------------------------------------------------------------------------------------ issue 8: memory

# Issue 8's network: 989,810 parameters (under the 2 M budget), but 28x28x700 values per layer and sample.
ISSUE_8 = [Conv2D(filters=700, kernel_size=1, padding="same")] * 3 + [MaxPooling2D(pool_size=28), Flatten(), SOFTMAX]


def test_estimate_adds_up_its_parts():
    summary = A.validate(A.preset("mlp", 10), 10)
    estimate = A.estimate_training_memory(summary, 32)
    # 784 inputs + 100 + 100 + 10 outputs per sample (Flatten is a reshape, not counted)
    assert estimate.per_sample_values == 994
    assert estimate.activations_mb == 1  # 32 x 994 x 4 B x 3, rounded up
    assert estimate.parameters_mb == 22  # 89,610 x 256 B
    assert estimate.dataset_mb == 0 and estimate.samples == 0
    assert estimate.overhead_mb == A.TRAINING_OVERHEAD_MB
    assert estimate.total_mb == A.TRAINING_OVERHEAD_MB + 1 + 22
    assert A.estimate_training_memory(summary, 32, samples=4_000).dataset_mb == 36  # 4,000 x 9,408 B


def test_estimate_grows_with_the_batch_but_a_batch_is_never_larger_than_the_dataset():
    summary = A.validate(A.preset("cnn", 10), 10)
    sizes = [A.estimate_training_memory(summary, batch, 100_000).activations_mb for batch in (1, 32, 256, 4096)]
    assert sizes == sorted(sizes) and sizes[-1] > 100 * sizes[1]
    assert (A.estimate_training_memory(summary, 4096, samples=500).activations_mb
            == A.estimate_training_memory(summary, 500, samples=500).activations_mb)
    assert A.estimate_training_memory(summary, 32).largest_layer == "conv2d"  # 26x26x32
    with pytest.raises(ValueError):
        A.estimate_training_memory(summary, 0)


@pytest.mark.parametrize("name", A.PRESETS)
def test_presets_fit_the_default_limit_with_any_allowed_batch_size(name):
    summary = A.validate(A.preset(name, 10), 10)
    limit = A.DEFAULT_MAX_TRAINING_MEMORY_MB
    assert A.check_training_memory(summary, 32, limit, samples=4_000).total_mb < 1_100  # the default batch
    assert A.check_training_memory(summary, 32, limit, samples=200_000).total_mb < limit  # the import maximum
    assert A.check_training_memory(summary, 4096, limit, samples=10_000).total_mb < limit  # the batch maximum


def test_issue_8_network_is_refused_for_its_memory_with_advice():
    summary = A.validate(ISSUE_8, 10)
    assert summary.total_params == 989_810
    with pytest.raises(ArchitectureError) as caught:
        A.check_training_memory(summary, 4096, A.DEFAULT_MAX_TRAINING_MEMORY_MB)
    error = caught.value
    assert error.code == "training_memory_too_large"
    assert error.layer_index is None
    assert "batch size of 4,096" in error.message and "3,072 MB" in error.message
    assert "conv2d's 28x28x700 values per sample" in error.message
    fits = A.largest_batch_size(summary, A.DEFAULT_MAX_TRAINING_MEMORY_MB)
    assert f"batch size of at most {fits:,}" in error.message
    assert A.check_training_memory(summary, fits, A.DEFAULT_MAX_TRAINING_MEMORY_MB).total_mb <= 3072
    with pytest.raises(ArchitectureError):
        A.check_training_memory(summary, fits + 1, A.DEFAULT_MAX_TRAINING_MEMORY_MB)
    # The estimate is what issue 8 measured: one 28x28x700 layer output at batch 4096 alone is ~9 GB.
    assert A.estimate_training_memory(summary, 4096).activations_mb > 3 * 9_000


def test_a_network_too_large_even_for_one_sample_asks_for_fewer_filters():
    wide = [Conv2D(filters=1024, kernel_size=1, padding="same")] * 8 + [Flatten(), SOFTMAX]
    summary = A.validate(wide, 10, max_params=None)
    assert A.largest_batch_size(summary, 1000) == 0
    with pytest.raises(ArchitectureError) as caught:
        A.check_training_memory(summary, 64, 1000)
    assert "Even a batch of one sample is too much" in caught.value.message
    assert "fewer filters" in caught.value.message


def test_no_limit_only_estimates():
    summary = A.validate(ISSUE_8, 10)
    assert A.check_training_memory(summary, 4096, None).total_mb > 20_000
