"""TensorFlow's start-up lines (CUDA, oneDNN, CPU features) stay out of the service's log on a machine without a
GPU; anything else printed meanwhile still gets through."""

import subprocess
import sys

import pytest

NOISE = (
    "I0000 00:00:1.1 1 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical "
    "results. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n"
    "I0000 00:00:1.2 1 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n"
    "E0000 00:00:1.3 1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
)


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)


def test_the_filter_drops_tensorflows_startup_lines_and_passes_on_the_rest():
    result = run(
        "import os\n"
        "from digitlab.ml._tf import _startup_noise_filtered\n"
        "with _startup_noise_filtered():\n"
        f"    os.write(2, {NOISE.encode()!r})\n"
        "    os.write(2, b'a real error\\n')\n"
        "os.write(2, b'after\\n')\n"
    )
    assert result.stderr == "a real error\nafter\n"


@pytest.mark.slow
def test_a_training_process_starts_tensorflow_quietly():
    result = run(
        "from digitlab.ml import _tf\n"
        "keras = _tf.keras()\n"
        "assert _tf.configure_threads(1)  # the filter must not start TensorFlow's runtime\n"
        "import numpy as np\n"
        "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
        "model.compile('sgd', 'mse')\n"
        "model.fit(np.zeros((4, 4)), np.zeros((4, 2)), verbose=0)\n"
    )
    assert result.stderr == ""
