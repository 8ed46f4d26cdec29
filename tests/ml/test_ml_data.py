"""Image scaling and the stratified, seeded train/val/test split (numpy only)."""

import numpy as np
import pytest

from digitlab.ml.data import DatasetTooSmall, prepare_images, split_dataset


def images(n: int) -> np.ndarray:
    # Each image carries its own index in pixel [0, 0] and [0, 1], so tests can see where it went.
    x = np.zeros((n, 28, 28), np.uint8)
    x[:, 0, 0] = np.arange(n) % 256
    x[:, 0, 1] = np.arange(n) // 256
    return x


def ids(x: np.ndarray) -> np.ndarray:
    raw = np.rint(x[:, 0, :2, 0] * 255).astype(int)
    return raw[:, 0] + 256 * raw[:, 1]


def test_prepare_images_scales_and_shapes():
    x = np.array([[0, 128, 255] + [0] * 25] * 28, np.uint8)
    prepared = prepare_images(x)
    assert prepared.shape == (1, 28, 28, 1) and prepared.dtype == np.float32
    assert prepared[0, 0, :3, 0].tolist() == pytest.approx([0.0, 128 / 255, 1.0])
    assert prepare_images(np.zeros((5, 28, 28, 1), np.uint8)).shape == (5, 28, 28, 1)
    floats = np.full((2, 28, 28), 0.5, np.float64)
    assert prepare_images(floats).dtype == np.float32
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        prepare_images(np.full((1, 28, 28), 2.0))
    with pytest.raises(ValueError, match="shape"):
        prepare_images(np.zeros((1, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        prepare_images(np.zeros((1, 28, 28), np.int32))


def test_split_is_stratified_disjoint_and_complete():
    y = np.repeat(np.arange(10), [60, 60, 60, 60, 60, 60, 60, 60, 60, 30])
    splits = split_dataset(images(len(y)), y, n_labels=10, seed=3)
    counts = splits.counts()
    assert counts["val"] == counts["test"] == {**{str(i): 6 for i in range(9)}, "9": 3}
    assert counts["train"] == {**{str(i): 48 for i in range(9)}, "9": 24}
    together = np.concatenate([splits.train_index, splits.val_index, splits.test_index])
    assert sorted(together.tolist()) == list(range(len(y)))
    for part in ("train", "val", "test"):
        index = getattr(splits, f"{part}_index")
        x_part, y_part = getattr(splits, f"x_{part}"), getattr(splits, f"y_{part}")
        assert ids(x_part).tolist() == index.tolist()  # images follow their index
        assert y_part.tolist() == y[index].tolist()
        assert x_part.dtype == np.float32 and x_part.shape[1:] == (28, 28, 1)
        assert 0.0 <= x_part.min() and x_part.max() <= 1.0
        assert np.issubdtype(y_part.dtype, np.integer)
    assert not np.all(np.diff(splits.y_train) >= 0)  # shuffled, not sorted by label


def test_same_seed_same_split_other_seed_other_split():
    y = np.repeat(np.arange(4), 20)
    a = split_dataset(images(80), y, seed=7)
    b = split_dataset(images(80), y, seed=7)
    c = split_dataset(images(80), y, seed=8)
    for part in ("train_index", "val_index", "test_index"):
        assert getattr(a, part).tolist() == getattr(b, part).tolist()
    assert a.test_index.tolist() != c.test_index.tolist()


def test_fractions_are_configurable_and_every_part_gets_one_sample():
    y = np.repeat(np.arange(3), [3, 4, 50])
    splits = split_dataset(images(len(y)), y, val_fraction=0.2, test_fraction=0.3, seed=0)
    counts = splits.counts()
    assert counts["val"] == {"0": 1, "1": 1, "2": 10}
    assert counts["test"] == {"0": 1, "1": 1, "2": 15}
    assert counts["train"] == {"0": 1, "1": 2, "2": 25}
    no_test = split_dataset(images(len(y)), y, test_fraction=0.0)
    assert len(no_test.test_index) == 0 and len(no_test.x_test) == 0


def test_labels_without_samples_are_allowed():
    y = np.repeat([0, 2], 10)
    splits = split_dataset(images(20), y, labels=["a", "b", "c"])
    assert splits.n_labels == 3 and splits.labels == ("a", "b", "c")
    assert splits.counts()["train"]["b"] == 0


@pytest.mark.parametrize("counts, fragment", [
    ([10, 2, 10], "Label 'seven' has only 2 samples"),
    ([10, 1, 10], "Label 'seven' has only 1 sample;"),
    ([10, 0, 0], "only label 'six' has samples"),
    ([0, 0, 0], "no label has samples"),
])
def test_too_small_datasets_are_refused_with_a_reason(counts, fragment):
    y = np.repeat(np.arange(3), counts)
    with pytest.raises(DatasetTooSmall, match=fragment):
        split_dataset(images(len(y)), y, labels=["six", "seven", "eight"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="one label per image"):
        split_dataset(images(5), [0, 1])
    with pytest.raises(ValueError, match="0..1"):
        split_dataset(images(3), [0, 1, 2], n_labels=2)
    with pytest.raises(ValueError, match="add up"):
        split_dataset(images(9), [0, 1, 2] * 3, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="integer"):
        split_dataset(images(3), [0.0, 1.0, 1.0])


def test_label_counts_can_be_checked_before_loading_any_image():
    from digitlab.ml.data import check_label_counts

    check_label_counts([3, 0, 60], ["a", "b", "c"])
    with pytest.raises(DatasetTooSmall, match="Label 'b' has only 2 samples"):
        check_label_counts([60, 2, 60], ["a", "b", "c"])
    with pytest.raises(DatasetTooSmall, match="only label 'c' has samples"):
        check_label_counts([0, 0, 60], ["a", "b", "c"])
