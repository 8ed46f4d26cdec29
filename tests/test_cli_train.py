"""`digitlab train DATASET --arch mlp|cnn --epochs N --out DIR [--seed S]` and `digitlab evaluate MODEL.onnx DATASET`,
as a student runs them in a terminal: on an mnist.npz and on a folder written by `digitlab extract`."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from digitlab.ml.onnx_runtime import OnnxModel
from digitlab.ml.synthetic import make_digits
from tests.pipeline import synth

REPO = Path(__file__).resolve().parents[1]
DIGITS = list("0123456789")
REPORT_KEYS = {"test_loss", "test_accuracy", "per_label", "confusion", "labels", "epochs_run", "stopped", "history",
               "dataset", "total_params", "architecture", "activation", "seed"}


def digitlab(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "digitlab.cli", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-train")


@pytest.fixture(scope="module")
def npz_dataset(workdir) -> tuple[Path, np.ndarray, np.ndarray]:
    x, y = make_digits(30, seed=31)
    path = workdir / "mnist.npz"
    np.savez(path, x_train=x[:240], y_train=y[:240].astype(np.uint8), x_test=x[240:], y_test=y[240:].astype(np.uint8))
    return path, x, y


@pytest.fixture(scope="module")
def npz_run(workdir, npz_dataset) -> dict:
    path, _, _ = npz_dataset
    out = workdir / "npz-model"
    result = digitlab("train", path, "--arch", "mlp", "--epochs", 3, "--out", out, "--seed", 5, cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"out": out, "result": result}


@pytest.fixture(scope="module")
def extracted(workdir) -> Path:
    """A synthetic 150-dpi grid sheet, cut into a dataset folder by `digitlab extract`."""
    page = synth.render_sheet(150, 2, "black", seed=5)
    cv2.imwrite(str(workdir / "sheet.png"), page.gray)
    folder = workdir / "extracted"
    result = digitlab("extract", "sheet.png", "--out", folder, cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = last_json_line(result.stdout)
    assert summary["kept"] >= 300, summary  # ~475 digits written
    return folder


@pytest.mark.slow
def test_train_on_an_npz_writes_the_model_files_and_report(npz_run):
    out, result = npz_run["out"], npz_run["result"]
    printed = last_json_line(result.stdout)
    assert set(printed) >= {"test_accuracy", "test_loss", "out"}
    epochs = [json.loads(line) for line in result.stderr.splitlines() if line.startswith('{"epoch"')]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]

    assert zipfile.is_zipfile(out / "model.keras") and (out / "model.keras").stat().st_size > 1000
    model = OnnxModel(out / "model.onnx")
    assert model.labels == DIGITS
    assert model.layer_names == ["flatten", "dense", "dense_1", "dense_2"]

    report = json.loads((out / "report.json").read_text())
    assert REPORT_KEYS <= set(report)
    assert (report["architecture"], report["activation"], report["seed"]) == ("mlp", "relu", 5)
    assert report["total_params"] == 89_610
    assert report["epochs_run"] == 3 and report["stopped"] == "completed" and len(report["history"]) == 3
    # The defaults: augmentation on, the best epoch kept (and named), a cosine learning rate.
    assert report["settings"]["augmentation"]["rotation"] > 0 and report["settings"]["early_stopping"] == 10
    assert report["settings"]["lr_schedule"] == "cosine" and 1 <= report["best_epoch"] <= 3
    assert report["labels"] == DIGITS
    assert report["test_accuracy"] == pytest.approx(printed["test_accuracy"])
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == sum(report["dataset"]["test"].values()) == 30
    assert report["test_accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    # x_train and x_test are pooled, then split 80/10/10 per label.
    assert report["dataset"]["train"] == dict.fromkeys(DIGITS, 24)


@pytest.mark.slow
def test_evaluate_prints_accuracy_count_and_confusion_with_onnxruntime_only(workdir, npz_run, npz_dataset):
    path, x, y = npz_dataset
    model = npz_run["out"] / "model.onnx"
    # Run it in a process that would notice TensorFlow being imported.
    check = ("import sys; from digitlab.cli import main; code = main(sys.argv[1:]); "
             "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow imported'; "
             "sys.exit(code)")
    result = subprocess.run([sys.executable, "-c", check, "evaluate", str(model), str(path)], cwd=workdir,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    report = last_json_line(result.stdout)
    assert {"accuracy", "count", "confusion"} <= set(report)
    assert report["count"] == 300
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 300
    assert confusion.sum(axis=1).tolist() == [30] * 10
    # The same figures as running the model directly (x_train then x_test, as stored).
    predicted = OnnxModel(model).predict(np.concatenate([x[:240], x[240:]])).argmax(axis=1)
    assert report["accuracy"] == pytest.approx(float(np.mean(predicted == np.concatenate([y[:240], y[240:]]))))
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 300)


@pytest.mark.slow
def test_the_installed_command_evaluates(workdir, npz_run, npz_dataset):
    command = Path(sys.executable).parent / "digitlab"
    if not command.exists():
        pytest.skip(f"no installed `digitlab` script next to {sys.executable}")
    result = subprocess.run([str(command), "evaluate", str(npz_run["out"] / "model.onnx"), str(npz_dataset[0])],
                            cwd=workdir, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert last_json_line(result.stdout)["count"] == 300


@pytest.mark.slow
def test_train_and_evaluate_on_an_extracted_folder(workdir, extracted):
    out = workdir / "folder-model"
    result = digitlab("train", extracted, "--arch", "cnn", "--epochs", 2, "--out", out, "--seed", 1, "--no-augment",
                      cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("model.keras", "model.onnx", "report.json"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    assert REPORT_KEYS <= set(report)
    assert report["architecture"] == "cnn" and report["total_params"] == 225_034 and report["epochs_run"] == 2
    assert report["settings"]["augmentation"] is None
    assert report["labels"] == DIGITS
    kept = sum(cell["kept"] for page in json.loads((extracted / "manifest.json").read_text())["pages"]
               for cell in page["cells"])
    assert sum(sum(part.values()) for part in report["dataset"].values()) == kept

    evaluated = digitlab("evaluate", out / "model.onnx", extracted, cwd=workdir, timeout=120)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    figures = last_json_line(evaluated.stdout)
    assert figures["count"] == kept and np.array(figures["confusion"]).sum() == kept
    assert 0 <= figures["accuracy"] <= 1


# ------------------------------------------------------------------------------------------ mistakes

def test_train_refuses_a_dataset_too_small_naming_the_label(workdir):
    path = workdir / "small.npz"
    np.savez(path, x_train=np.zeros((8, 28, 28), np.uint8), y_train=np.array([0, 0, 0, 1, 1, 2, 2, 2], np.uint8))
    result = digitlab("train", path, "--out", workdir / "never", cwd=workdir, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("digitlab train:") and "'1'" in result.stderr and "2 samples" in result.stderr
    assert not (workdir / "never").exists()


@pytest.mark.parametrize("make, expected", [
    (lambda d: d / "missing.npz", "missing.npz"),
    (lambda d: (d / "empty-folder").mkdir() or d / "empty-folder", "manifest.json"),
], ids=["missing file", "folder without manifest"])
def test_train_refuses_missing_datasets(workdir, make, expected):
    result = digitlab("train", make(workdir), "--out", workdir / "never", cwd=workdir, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith("digitlab train:") and expected in result.stderr


def test_train_on_an_npz_without_labels_says_what_is_missing(workdir):
    path = workdir / "no-labels.npz"
    np.savez(path, x_train=np.zeros((9, 28, 28), np.uint8))
    result = digitlab("train", path, "--out", workdir / "never", cwd=workdir, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "y_train" in result.stderr, result.stderr  # not "max() arg is an empty sequence"


@pytest.mark.parametrize("name, content", [("notes.npz", b"just some text\n"), ("manifest.json", b'{"pages": []}')],
                         ids=["text file", "the manifest instead of its folder"])
def test_a_file_that_is_not_an_npz_gets_a_plain_reason(workdir, name, content):
    path = workdir / "not-npz" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    result = digitlab("train", path, "--out", workdir / "never", cwd=workdir, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith("digitlab train:")
    assert "pickle" not in result.stderr, result.stderr  # numpy's advice to unpickle is the wrong advice here


def test_evaluate_refuses_a_file_that_is_not_onnx(workdir, npz_dataset):
    bad = workdir / "not-a-model.onnx"
    bad.write_bytes(b"this is not a model")
    result = digitlab("evaluate", bad, npz_dataset[0], cwd=workdir, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.startswith("digitlab evaluate:") and "Traceback" not in result.stderr
