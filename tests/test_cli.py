"""`digitlab extract PAGE... --out DIR`: the pipeline without a server, as a student runs it in a terminal."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import jsonschema
import pytest

from digitlab.pipeline.template import COLUMNS, ROWS
from tests.api import scanpages

REPO = Path(__file__).resolve().parents[1]

POINT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
CELL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["row", "col", "label", "kept", "reason", "image"],
    "properties": {
        "row": {"type": "integer", "minimum": 0, "maximum": ROWS - 1},
        "col": {"type": "integer", "minimum": 0, "maximum": COLUMNS - 1},
        "label": {"type": "string"},
        "kept": {"type": "boolean"},
        "reason": {"type": ["string", "null"]},
        "image": {"type": ["string", "null"]},
    },
}
PAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["file", "status", "error", "corners", "cells"],
    "properties": {
        "file": {"type": "string"},
        "status": {"enum": ["ok", "failed"]},
        "error": {"type": ["string", "null"]},
        "corners": {"oneOf": [{"type": "array", "items": POINT, "minItems": 4, "maxItems": 4}, {"type": "null"}]},
        "cells": {"type": "array", "items": CELL},
    },
}
MANIFEST = {"type": "object", "additionalProperties": False, "required": ["pages"],
            "properties": {"pages": {"type": "array", "items": PAGE}}}


def run_extract(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "digitlab.cli", "extract", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def pages(tmp_path) -> dict:
    written = scanpages.default_cells(seed=70)
    (tmp_path / "scans").mkdir()
    cv2.imwrite(str(tmp_path / "scans" / "sheet 1.png"), scanpages.grid_page(written, seed=70))
    cv2.imwrite(str(tmp_path / "holiday.jpg"), scanpages.noise_page(seed=71))
    return {"written": written}


def check_ok_page(page: dict, out: Path, labels: list[str], written: set) -> None:
    assert page["status"] == "ok" and page["error"] is None
    # Corners in order top-left, top-right, bottom-right, bottom-left.
    (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = page["corners"]
    assert tlx < trx and blx < brx and tly < bly and try_ < bry
    assert abs(tly - try_) < 20 and abs(tlx - blx) < 20
    assert sorted((c["row"], c["col"]) for c in page["cells"]) == [(r, c) for r in range(ROWS) for c in range(COLUMNS)]
    kept = set()
    for cell in page["cells"]:
        assert cell["label"] == labels[cell["row"] // 3]
        if cell["kept"]:
            kept.add((cell["row"], cell["col"]))
            assert cell["image"] is not None and not Path(cell["image"]).is_absolute()
            image = cv2.imread(str(out / cell["image"]), cv2.IMREAD_UNCHANGED)
            assert image is not None, cell["image"]
            assert image.shape == (28, 28)
            assert (out / cell["image"]).read_bytes().startswith(b"\x89PNG")
        else:
            assert cell["image"] is None and cell["reason"]
    assert kept <= written and len(kept) >= 0.9 * len(written)


def test_extract_writes_manifest_and_samples(tmp_path, pages):
    result = run_extract(tmp_path, "scans/sheet 1.png", "holiday.jpg", "--out", "out")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    jsonschema.validate(manifest, MANIFEST)
    sheet, holiday = manifest["pages"]
    assert sheet["file"] == "scans/sheet 1.png" and holiday["file"] == "holiday.jpg"
    check_ok_page(sheet, out, [str(d) for d in range(10)], pages["written"])
    assert holiday["status"] == "failed"
    assert isinstance(holiday["error"], str) and holiday["error"]
    assert holiday["corners"] is None and holiday["cells"] == []
    # Every PNG on disk is one the manifest names.
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert on_disk == {c["image"] for c in sheet["cells"] if c["kept"]}


def test_extract_with_own_labels(tmp_path, pages):
    labels = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]
    result = run_extract(tmp_path, "scans/sheet 1.png", "--out", str(tmp_path / "o"), "--labels", ",".join(labels))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    jsonschema.validate(manifest, MANIFEST)
    check_ok_page(manifest["pages"][0], tmp_path / "o", labels, pages["written"])


def test_extract_when_no_page_has_a_grid(tmp_path, pages):
    result = run_extract(tmp_path, "holiday.jpg", "missing.png", "--out", "out")
    assert result.returncode != 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    jsonschema.validate(manifest, MANIFEST)
    assert [p["file"] for p in manifest["pages"]] == ["holiday.jpg", "missing.png"]
    for page in manifest["pages"]:
        assert page["status"] == "failed" and page["error"] and page["cells"] == []


def test_extract_refuses_a_wrong_label_count(tmp_path, pages):
    result = run_extract(tmp_path, "holiday.jpg", "--out", "out", "--labels", "a,b,c")
    assert result.returncode == 2
    assert "10 labels" in result.stderr
    assert not (tmp_path / "out").exists()


def test_console_script_is_installed():
    script = REPO / ".venv" / "bin" / "digitlab"
    if not script.exists():
        pytest.skip("no .venv/bin/digitlab (not installed with pip install -e .)")
    result = subprocess.run([str(script), "extract", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--out" in result.stdout
