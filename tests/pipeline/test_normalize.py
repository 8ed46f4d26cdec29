"""The shared preprocessing contract: normalize_sample against the committed test vectors, and its properties."""

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from digitlab.pipeline import CONTRACT_VERSION, normalize_sample
from digitlab.pipeline.normalize import area_matrix, fitted_size

SHARED = Path(__file__).resolve().parents[2] / "shared" / "preprocessing"
VECTORS = json.loads((SHARED / "vectors.json").read_text())


def as_array(rows: list[list[float]]) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(len(rows), -1 if rows and rows[0] else 0)


def test_vectors_are_for_this_contract_version() -> None:
    assert VECTORS["contract_version"] == CONTRACT_VERSION == "1"
    assert 'version "1"' in (SHARED / "CONTRACT.md").read_text()
    assert len(VECTORS["vectors"]) >= 12


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=[v["name"] for v in VECTORS["vectors"]])
def test_matches_vectors(vector: dict) -> None:
    out = normalize_sample(as_array(vector["input"]))
    assert out.shape == (28, 28) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.array(vector["output"]), atol=VECTORS["tolerance"], rtol=0)


def test_vectors_file_is_what_make_vectors_produces() -> None:
    """The committed vectors are in sync with the implementation (else bump the contract version)."""
    spec = importlib.util.spec_from_file_location("make_vectors", SHARED / "make_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = [name for name, _ in module.inputs()]
    assert names == [v["name"] for v in VECTORS["vectors"]]
    # contract.json (read by the browser's tests) holds the server's constants, the one source in Python.
    assert (SHARED / "contract.json").read_text() == module.contract_json()


def test_contract_json_holds_the_documented_constants() -> None:
    """A change here is a new contract version (CONTRACT.md): version 1 is 0.2 / 26 / 28."""
    contract = json.loads((SHARED / "contract.json").read_text())
    assert contract == {"contract_version": CONTRACT_VERSION, "ink_threshold": 0.2, "fit_side": 26, "canvas_side": 28}
    text = (SHARED / "CONTRACT.md").read_text()
    for name, key in [("INK_THRESHOLD", "ink_threshold"), ("FIT_SIDE", "fit_side"), ("CANVAS_SIDE", "canvas_side")]:
        assert re.search(rf"^\| `{name}`\s*\| {re.escape(str(contract[key]))}\s*\|", text, re.MULTILINE), name


def _blob(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.zeros((h + 10, w + 12))
    a[5:5 + h, 6:6 + w] = rng.uniform(0.5, 1.0, (h, w))
    return a


@pytest.mark.parametrize("h,w", [(40, 10), (10, 40), (26, 26), (5, 3), (60, 45), (1, 1), (100, 7), (27, 13)])
def test_longer_side_26_centred_aspect_kept(h: int, w: int) -> None:
    out = normalize_sample(_blob(h, w, seed=h * 100 + w))
    rows = np.flatnonzero(out.any(axis=1))
    cols = np.flatnonzero(out.any(axis=0))
    bh, bw = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert max(bh, bw) == 26
    assert (bh, bw) == fitted_size(h, w)
    assert abs(bh / bw - h / w) <= max(1 / bw, 1 / bh) * (h / w + 1)  # aspect kept up to rounding
    assert rows[0] == (28 - bh) // 2 and cols[0] == (28 - bw) // 2  # centred (odd leftovers go below/right)
    assert out.min() >= 0 and out.max() <= 1


def test_single_pixel_fills_26_by_26() -> None:
    a = np.zeros((9, 4))
    a[4, 1] = 0.7
    out = normalize_sample(a)
    assert np.allclose(out[1:27, 1:27], 0.7) and out.sum() == pytest.approx(0.7 * 26 * 26, rel=1e-6)


def test_threshold_clipping_and_odd_values() -> None:
    assert not normalize_sample(np.full((5, 5), 0.2)).any()  # exactly 0.2 is not ink
    assert not normalize_sample(np.zeros((0, 0))).any()
    assert not normalize_sample(np.zeros((3, 0))).any()
    clipped = normalize_sample(np.array([[5.0, -3.0], [np.nan, np.inf]]))
    same = normalize_sample(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_array_equal(clipped, same)
    with pytest.raises(ValueError):
        normalize_sample(np.zeros((3, 3, 3)))


def test_area_matrix_rows_average_exactly() -> None:
    for n_in, n_out in [(10, 26), (26, 26), (53, 26), (7, 3), (3, 7)]:
        r = area_matrix(n_in, n_out)
        assert r.shape == (n_out, n_in)
        np.testing.assert_allclose(r.sum(axis=1), 1.0)
        # box filter: every input pixel's area is handed out in full (ink mass is preserved)
        np.testing.assert_allclose(r.sum(axis=0) * n_in / n_out, 1.0)
