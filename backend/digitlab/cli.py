"""Command line: `digitlab serve` runs the service; `digitlab extract` runs the pipeline without a server."""

import argparse
import json
import logging
import re
import sys
from pathlib import Path

from digitlab.pipeline.template import DIGIT_LABELS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="digitlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web service (settings from DIGITLAB_* variables)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    worker = commands.add_parser("worker", help="run a Celery worker for DIGITLAB_JOB_BACKEND=celery (one fresh "
                                 "process per job; any number of hosts sharing the database and the files)")
    worker.add_argument("--concurrency", type=int, default=None,
                        help="jobs at once on this host (default DIGITLAB_JOB_CONCURRENCY)")
    worker.add_argument("--name", default=None, help="Celery node name, e.g. worker1@%%h (default celery@host)")
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument("--ping", action="store_true",
                        help="health check: exit 0 if the worker of this --name on this host answers, else 1")

    extract = commands.add_parser("extract", help="cut the cells of scanned grid sheets into 28x28 PNGs")
    extract.add_argument("pages", nargs="+", type=Path, metavar="PAGE", help="PNG, JPEG, TIFF or PDF files")
    extract.add_argument("--out", required=True, type=Path, help="folder for manifest.json and the PNGs")
    extract.add_argument("--labels", default=",".join(DIGIT_LABELS),
                         help="ten comma-separated labels, one per group of three rows (default 0..9)")

    train = commands.add_parser("train", help="train a network on a dataset folder or mnist.npz, without a server")
    train.add_argument("dataset", type=Path, metavar="DATASET", help="a `digitlab extract` folder or an mnist.npz")
    train.add_argument("--arch", choices=["mlp", "cnn"], default="mlp")
    train.add_argument("--activation", choices=["relu", "tanh", "sigmoid"], default="relu")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, type=Path, help="folder for model.keras, model.onnx, report.json")

    evaluate = commands.add_parser("evaluate", help="evaluate an ONNX model on a dataset (onnxruntime only)")
    evaluate.add_argument("model", type=Path, metavar="MODEL.onnx")
    evaluate.add_argument("dataset", type=Path, metavar="DATASET")

    args = parser.parse_args(argv)
    handlers = {"serve": _serve, "worker": _worker, "extract": _extract, "train": _train, "evaluate": _evaluate}
    return handlers[args.command](args)


class _RedactTokens(logging.Filter):
    """WebSocket URLs carry the bearer token as ?token=...; keep it out of the server's logs."""

    PATTERN = re.compile(r"(token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = self.PATTERN.sub(r"\1***", message), ()
        return True


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    config = uvicorn.Config("digitlab.main:create_app", factory=True, host=args.host, port=args.port,
                            log_config=LOGGING_CONFIG)
    server = uvicorn.Server(config)
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(_RedactTokens())
    server.run()
    return 0


def _worker(args: argparse.Namespace) -> int:
    from digitlab.jobs.celery_app import ping_worker, run_worker

    if args.ping:
        return 0 if ping_worker(name=args.name) else 1
    if args.concurrency is not None and args.concurrency < 1:
        print("digitlab worker: --concurrency must be at least 1", file=sys.stderr)
        return 2
    run_worker(concurrency=args.concurrency, name=args.name, loglevel=args.loglevel)
    return 0


def _extract(args: argparse.Namespace) -> int:
    from digitlab.extraction.offline import extract_files

    labels = [label.strip() for label in args.labels.split(",")]
    if len(labels) != 10:
        print(f"digitlab extract: --labels needs 10 labels, got {len(labels)}", file=sys.stderr)
        return 2
    manifest = extract_files(args.pages, args.out, labels)
    failed = sum(page["status"] == "failed" for page in manifest["pages"])
    kept = sum(cell["kept"] for page in manifest["pages"] for cell in page["cells"])
    print(json.dumps({"pages": len(manifest["pages"]), "failed_pages": failed, "kept": kept,
                      "manifest": str(args.out / "manifest.json")}))
    return 1 if failed == len(manifest["pages"]) else 0


def _train(args: argparse.Namespace) -> int:
    from digitlab.core.storage import FileStorage
    from digitlab.datasets.formats import DatasetFileError, read_dataset_path
    from digitlab.ml import architectures, export, workflow
    from digitlab.ml.data import DatasetTooSmall

    try:
        images, y, labels = read_dataset_path(args.dataset)
        layers = architectures.preset(args.arch, len(labels), args.activation)

        def on_epoch(entry: dict) -> None:
            print(json.dumps({"epoch": entry["epoch"], "loss": round(entry["loss"], 4),
                              "accuracy": round(entry["accuracy"], 4), "val_loss": round(entry["val_loss"], 4),
                              "val_accuracy": round(entry["val_accuracy"], 4)}), file=sys.stderr)

        outcome = workflow.fit_and_evaluate(images, y, labels, layers, epochs=args.epochs,
                                            batch_size=args.batch_size, seed=args.seed, on_epoch=on_epoch)
    except (DatasetFileError, DatasetTooSmall, OSError, KeyError, ValueError) as exc:
        print(f"digitlab train: {exc}", file=sys.stderr)
        return 2
    out = FileStorage(args.out)
    export.save_keras(outcome.result.model, out.path("model.keras"))
    out.write("model.onnx", outcome.onnx)
    report = workflow.report(outcome) | {"architecture": args.arch, "activation": args.activation, "seed": args.seed}
    out.write("report.json", json.dumps(report, indent=1).encode())
    print(json.dumps({"test_accuracy": report["test_accuracy"], "test_loss": report["test_loss"],
                      "out": str(args.out)}))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from digitlab.datasets.formats import DatasetFileError, read_dataset_path
    from digitlab.ml.evaluate import evaluate_probabilities
    from digitlab.ml.onnx_runtime import OnnxModel

    try:
        model = OnnxModel(args.model.read_bytes())
    except OSError as exc:
        print(f"digitlab evaluate: {exc}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001 - onnxruntime raises its own types for a file it cannot parse
        print(f"digitlab evaluate: {args.model} is not an ONNX model", file=sys.stderr)
        return 2
    try:
        images, y, labels = read_dataset_path(args.dataset)
    except (DatasetFileError, OSError, KeyError, ValueError) as exc:
        print(f"digitlab evaluate: {exc}", file=sys.stderr)
        return 2
    if labels != model.labels:
        # Match by label name: the dataset may list its labels in another order, or fewer of them.
        unknown = sorted(set(labels) - set(model.labels))
        if unknown:
            print(f"digitlab evaluate: the model does not know the labels {unknown}", file=sys.stderr)
            return 2
        y = [model.labels.index(labels[i]) for i in y]
    evaluation = evaluate_probabilities(model.predict(images), y, model.labels).to_dict()
    print(json.dumps({key: evaluation[key] for key in ("accuracy", "count", "confusion", "loss", "per_label",
                                                       "labels")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
