"""Calibration of digitlab.ml.architectures.estimate_training_memory: estimate vs measured peak memory.

    .venv/bin/python benchmarks/training_memory.py [--only cnn_b4096 issue_b64 ...] [--epochs 1]

Each network trains in a freshly spawned process doing what a training job does (split, fit, predict the
test set, ONNX export: digitlab.ml.workflow.fit_and_evaluate), on random 28x28 uint8 images; the process
then reports its peak resident set (VmHWM in /proc/self/status). The peak of a training is reached in its
first steps, so one epoch is enough. The estimate must stay above every measurement (it is what the
service refuses trainings by), without being so far above that useful trainings are refused.

The "issue" network is issue 8's three 1x1 convolutions of 700 filters ('same' padding): at batch 4096 it
needs tens of GB and is refused; here it runs at small batch sizes to calibrate the activation factor.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

FLAT = {"kind": "flatten"}
NETWORKS = {
    "mlp": ("mlp", None),
    "cnn": ("cnn", None),
    "issue": ("custom", [{"kind": "conv2d", "filters": 700, "kernel_size": 1, "padding": "same"}] * 3
              + [{"kind": "max_pooling2d", "pool_size": 28}, FLAT]),
    "wide": ("custom", [{"kind": "conv2d", "filters": 128, "kernel_size": 5, "padding": "same"},
                        {"kind": "conv2d", "filters": 128, "kernel_size": 3, "padding": "same"},
                        {"kind": "max_pooling2d", "pool_size": 2}, FLAT, {"kind": "dense", "units": 64}]),
    "dense": ("custom", [FLAT, {"kind": "dense", "units": 1024}, {"kind": "dropout", "rate": 0.2},
                         {"kind": "dense", "units": 512}]),
    "bigkernel": ("custom", [{"kind": "conv2d", "filters": 32, "padding": "same"},
                             {"kind": "conv2d", "filters": 64, "kernel_size": 28, "padding": "same"},
                             {"kind": "max_pooling2d", "pool_size": 28}, FLAT]),
}
# name: (network, batch size, samples)
RUNS = {
    "mlp_b32": ("mlp", 32, 4000),
    "mlp_b32_60k": ("mlp", 32, 60000),
    "cnn_b32": ("cnn", 32, 4000),
    "cnn_b1024": ("cnn", 1024, 4000),
    "cnn_b4096": ("cnn", 4096, 10000),
    "issue_b16": ("issue", 16, 400),
    "issue_b64": ("issue", 64, 400),
    "wide_b32": ("wide", 32, 1500),
    "wide_b256": ("wide", 256, 1500),
    "wide_b1024": ("wide", 1024, 3000),
    "dense_b4096": ("dense", 4096, 10000),
    "bigkernel_b32": ("bigkernel", 32, 150),
}


def layers_of(network: str, n_labels: int = 10) -> list:
    from digitlab.ml import architectures

    kind, hidden = NETWORKS[network]
    if kind != "custom":
        return architectures.preset(kind, n_labels)
    return architectures.with_output_layer(architectures.parse_layers(hidden), n_labels)


def _status_mb(field: str) -> int:
    with open("/proc/self/status") as status:
        lines = status.readlines()
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return -1


def _child(network: str, batch: int, samples: int, epochs: int, queue) -> None:
    import numpy as np

    from digitlab.ml import workflow

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (samples, 28, 28), dtype=np.uint8)
    y = np.arange(samples) % 10
    started = time.perf_counter()
    workflow.fit_and_evaluate(images, y, [str(i) for i in range(10)], layers_of(network), epochs=epochs,
                              batch_size=batch, seed=0)
    queue.put({"peak_mb": _status_mb("VmHWM"), "vmdata_mb": _status_mb("VmData"),
               "seconds": round(time.perf_counter() - started, 1)})


def measure(network: str, batch: int, samples: int, epochs: int = 1) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(network, batch, samples, epochs, queue))
    process.start()
    process.join()
    return queue.get() if process.exitcode == 0 else {"peak_mb": None, "exitcode": process.exitcode}


def _import_peak(queue) -> None:
    from digitlab.ml import _tf, export, train, workflow  # noqa: F401 - what a job process imports

    _tf.keras()
    queue.put(_status_mb("VmHWM"))


def main() -> None:
    from digitlab.ml import architectures

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=list(RUNS), help="runs to do (default: all)")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_import_peak, args=(queue,))
    process.start()
    print(f"TensorFlow + job code imported: {queue.get()} MB peak RSS")
    process.join()

    print(f"{'run':<16}{'params':>10}{'estimate MB':>13}{'measured MB':>13}{'ratio':>7}{'VmData MB':>11}{'s':>7}")
    rows = []
    for name in args.only or RUNS:
        network, batch, samples = RUNS[name]
        summary = architectures.validate(layers_of(network), 10)
        estimate = architectures.estimate_training_memory(summary, batch, samples)
        result = measure(network, batch, samples, args.epochs)
        peak = result["peak_mb"]
        ratio = f"{peak / estimate.total_mb:.2f}" if peak else "-"
        print(f"{name:<16}{summary.total_params:>10,}{estimate.total_mb:>13,}{peak or result.get('exitcode'):>13}"
              f"{ratio:>7}{result.get('vmdata_mb', '-'):>11}{result.get('seconds', '-'):>7}", flush=True)
        rows.append({"run": name, "estimate": estimate.model_dump(), **result})
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
