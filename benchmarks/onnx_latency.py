"""CPU latency of one ONNX inference returning every layer's activation (what the browser view needs).

    .venv/bin/python benchmarks/onnx_latency.py [--runs 1000] [--presets mlp cnn] [--threads 1]

Builds the untrained presets (weights don't change the cost), exports them with digitlab.ml.export,
then times single-sample runs with onnxruntime. Target: under 1 ms for the CNN.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--presets", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn"])
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    args = parser.parse_args()

    from digitlab.ml import architectures, export, train
    from digitlab.ml.onnx_runtime import OnnxModel, benchmark_latency

    labels = [str(i) for i in range(10)]
    print(f"onnxruntime, batch 1, {args.runs} runs after {args.warmup} warm-up, {args.threads} thread(s)")
    for name in args.presets:
        model = train.build_model(architectures.preset(name, 10), 10, seed=0)
        data = export.to_onnx(model, labels)
        onnx_model = OnnxModel(data, threads=args.threads)
        for activations in (True, False):
            timing = benchmark_latency(onnx_model, runs=args.runs, warmup=args.warmup, activations=activations)
            what = f"all {len(onnx_model.output_names)} layer outputs" if activations else "softmax only"
            print(f"{name:4s} {what:22s} median {timing['median_ms']:.3f} ms   p95 {timing['p95_ms']:.3f} ms   "
                  f"({len(data) / 1e6:.2f} MB model)", flush=True)


if __name__ == "__main__":
    main()
