"""The API process must be able to use digitlab.ml without importing TensorFlow (~3 s, ~600 MB)."""

import subprocess
import sys
import textwrap

import pytest

CHECK = textwrap.dedent("""
    import sys
    import digitlab.ml
    from digitlab.ml import architectures, data, evaluate, onnx_runtime, synthetic, train, export
    summary = architectures.validate(architectures.preset("cnn", 10), 10)
    assert summary.total_params == 225_034
    {extra}
    heavy = sorted(m for m in ("tensorflow", "keras", "tf2onnx", "onnx") if m in sys.modules)
    assert not heavy, heavy
    print("ok")
""")


def run(extra: str = "") -> None:
    result = subprocess.run([sys.executable, "-c", CHECK.format(extra=extra)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_importing_digitlab_ml_does_not_import_tensorflow():
    run()


@pytest.mark.slow
def test_onnx_inference_and_evaluation_need_no_tensorflow(exported_mlp, splits, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(exported_mlp)
    x_path = tmp_path / "x.npy"
    import numpy as np

    np.save(x_path, splits.x_test)
    np.save(tmp_path / "y.npy", splits.y_test)
    run(f"""
import numpy as np
model = onnx_runtime.OnnxModel({str(path)!r})
probs = model.predict(np.load({str(x_path)!r}))
result = evaluate.evaluate_probabilities(probs, np.load({str(tmp_path / 'y.npy')!r}), model.labels)
assert result.accuracy > 0.8, result.accuracy
assert set(model.run(np.load({str(x_path)!r})[:1]).activations) == set(model.layer_names)
""")
