"""Regenerate vectors.json from the server's normalize_sample (contract version 1), and contract.json from
the server's constants (backend/digitlab/core/contract.py: canvas side, fit side, ink threshold, version).

Run from the repository root:  .venv/bin/python shared/preprocessing/make_vectors.py
The inputs are built deterministically below, so re-running produces the same files; a changed file means
the implementation changed, which must come with a new contract version.
"""

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "backend"))  # usable without installing the package

from digitlab.core import contract  # noqa: E402
from digitlab.pipeline.normalize import CONTRACT_VERSION, normalize_sample  # noqa: E402

TOLERANCE = 1e-5


def blobs(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth random-ish strokes: a few Gaussian blobs and a ring, values spread over [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.zeros((h, w))
    for _ in range(4):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        s = rng.uniform(2.0, 5.0)
        a += rng.uniform(0.5, 1.0) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * s * s))
    r = np.hypot(y - h / 2, x - w / 2)
    a += 0.9 * np.exp(-((r - min(h, w) / 3) ** 2) / 4.0)
    return np.clip(a, 0, 1)


def inputs() -> list[tuple[str, np.ndarray]]:
    cases: list[tuple[str, np.ndarray]] = []
    single = np.zeros((5, 7))
    single[2, 3] = 1.0
    cases.append(("single_pixel", single))
    cases.append(("row_1x9", np.array([[0.0, 0.5, 1.0, 1.0, 0.8, 1.0, 0.3, 0.9, 0.0]])))
    tall = np.zeros((40, 9))
    tall[3:37, 3:6] = np.linspace(0.4, 1.0, 34)[:, None]
    cases.append(("tall_thin_stroke_40x9", tall))
    wide = np.zeros((8, 50))
    wide[2:5, 4:47] = 0.9
    wide[5, 10:20] = 0.3
    cases.append(("wide_bar_8x50", wide))
    cases.append(("blobs_60x40", blobs(60, 40, seed=1)))
    cases.append(("blobs_33x47", blobs(33, 47, seed=2)))
    up = np.zeros((12, 12))
    up[3:8, 4:7] = [[0.3, 1.0, 0.3]] * 5
    up[7, 4:7] = [0.9, 0.9, 0.9]
    cases.append(("upscale_5x3_in_12x12", up))
    rng = np.random.default_rng(3)
    straddle = rng.uniform(0.15, 0.25, size=(10, 14))
    straddle[0, :] = 0.2  # exactly at the threshold: not ink (the rule is strictly greater)
    cases.append(("straddling_threshold_10x14", straddle))
    cases.append(("all_zero_6x6", np.zeros((6, 6))))
    below = np.full((4, 4), 0.2)
    cases.append(("all_at_threshold_4x4", below))
    clip = np.array([[-1.0, 0.0, 3.0, 0.0], [0.0, 1.7, -0.5, 0.0], [0.0, 0.0, 0.1, 2.0]])
    cases.append(("values_outside_0_1", clip))
    odd = np.zeros((29, 30))
    odd[1:28, 2:29] = blobs(27, 27, seed=4)
    cases.append(("near_28_27x27", odd))
    return cases


def main() -> None:
    vectors = []
    for name, a in inputs():
        out = normalize_sample(a)
        vectors.append({
            "name": name,
            "input": [[round(float(v), 6) for v in row] for row in a],
            "output": [[round(float(v), 6) for v in row] for row in out],
        })
    # Inputs are rounded to 6 decimals in the file; recompute from the rounded inputs so the file is
    # self-consistent for any reader.
    for v in vectors:
        out = normalize_sample(np.array(v["input"], dtype=np.float64).reshape(len(v["input"]), -1))
        v["output"] = [[round(float(x), 6) for x in row] for row in out]
    doc = {"contract_version": CONTRACT_VERSION, "tolerance": TOLERANCE, "vectors": vectors}
    (HERE / "vectors.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {len(vectors)} vectors to {HERE / 'vectors.json'}")
    (HERE / "contract.json").write_text(contract_json())
    print(f"wrote the constants to {HERE / 'contract.json'}")


def contract_json() -> str:
    """contract.json: the contract's constants, machine-readable, for every implementation to check its own."""
    return json.dumps(contract.as_json(), indent=2) + "\n"


if __name__ == "__main__":
    main()
