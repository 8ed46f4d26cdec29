"""Command line: `digitlab serve` runs the service, `digitlab migrate` brings the database up to date;
`digitlab extract`, `train` and `evaluate` run the pipeline and the network without a server."""

import argparse
import json
import logging
import sys
from pathlib import Path

from digitlab.lti import commands as lti_commands
from digitlab.pipeline.template import DIGIT_LABELS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="digitlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web service (settings from DIGITLAB_* variables)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    commands.add_parser(
        "migrate",
        help="apply the database migrations and exit (DIGITLAB_DATABASE_URL; `serve` "
        "does this itself unless DIGITLAB_MIGRATE_ON_START=false)",
    )

    worker = commands.add_parser(
        "worker",
        help="run a Celery worker for DIGITLAB_JOB_BACKEND=celery (trainings: one fresh process per job; "
        "extractions: warm processes; any number of hosts sharing the database and the files)",
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="trainings at once on this host (default DIGITLAB_JOB_CONCURRENCY; extractions: "
        "DIGITLAB_EXTRACTION_CONCURRENCY)",
    )
    worker.add_argument(
        "--lane",
        choices=["training", "extraction"],
        default=None,
        help="run only this lane's Celery node (default: both, each in its own process)",
    )
    worker.add_argument(
        "--name", default=None, help="Celery node name, e.g. worker1@%%h (default celery@host; each lane adds -<lane>)"
    )
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument(
        "--ping",
        action="store_true",
        help="health check: exit 0 if the worker of this --name on this host answers, else 1",
    )

    extract = commands.add_parser("extract", help="cut the cells of scanned grid sheets into 28x28 PNGs")
    extract.add_argument("pages", nargs="+", type=Path, metavar="PAGE", help="PNG, JPEG, TIFF or PDF files")
    extract.add_argument("--out", required=True, type=Path, help="folder for manifest.json and the PNGs")
    extract.add_argument(
        "--labels",
        default=",".join(DIGIT_LABELS),
        help="ten comma-separated labels, one per group of three rows (default 0..9)",
    )

    train = commands.add_parser("train", help="train a network on a dataset folder or mnist.npz, without a server")
    train.add_argument("dataset", type=Path, metavar="DATASET", help="a `digitlab extract` folder or an mnist.npz")
    train.add_argument("--arch", choices=["mlp", "cnn"], default="mlp")
    train.add_argument("--activation", choices=["relu", "tanh", "sigmoid"], default="relu")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="small random rotations, shifts, zooms and pen-thickness changes of the training samples, new in "
        "every epoch (default: on)",
    )
    train.add_argument(
        "--early-stopping",
        type=int,
        default=10,
        metavar="EPOCHS",
        help="stop when the validation loss has not improved for this many epochs and keep the best epoch's "
        "network; 0 keeps the last epoch's and runs every epoch (default 10)",
    )
    train.add_argument("--lr-schedule", choices=["constant", "cosine"], default="cosine")
    train.add_argument("--out", required=True, type=Path, help="folder for model.keras, model.onnx, report.json")

    evaluate = commands.add_parser("evaluate", help="evaluate an ONNX model on a dataset (onnxruntime only)")
    evaluate.add_argument("model", type=Path, metavar="MODEL.onnx")
    evaluate.add_argument("dataset", type=Path, metavar="DATASET")

    admin = commands.add_parser("admin", help="accounts: the first admin, teacher invitations")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create_admin = admin_commands.add_parser("create", help="create an admin account (asks for its password)")
    create_admin.add_argument("--username", required=True)
    create_admin.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin (scripts)"
    )
    invite = admin_commands.add_parser("invite-teacher", help="print a single-use code that makes a teacher's account")
    invite.add_argument("--days", type=int, default=None, help="valid for this many days (default 14)")
    invite.add_argument("--app-url", default=None, help="the web app's address for the link (default DIGITLAB_APP_URL)")

    lti_commands.add_parser(commands)

    args = parser.parse_args(argv)
    handlers = {
        "serve": _serve,
        "migrate": _migrate,
        "worker": _worker,
        "extract": _extract,
        "train": _train,
        "evaluate": _evaluate,
        "admin": _admin,
        "lti": lti_commands.run,
    }
    return handlers[args.command](args)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    config = uvicorn.Config(
        "digitlab.main:create_app", factory=True, host=args.host, port=args.port, log_config=LOGGING_CONFIG
    )
    server = uvicorn.Server(config)
    from digitlab.core.redact import RedactSecrets

    # Tokens in URLs (?token=, ?%74oken=) never reach the logs; the access line itself is kept.
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(RedactSecrets())
    server.run()
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from digitlab.core.config import get_settings
    from digitlab.core.db import make_engine, migrate, migration_state
    from digitlab.core.storage import private_dir

    settings = get_settings()
    private_dir(settings.data_dir)
    engine = make_engine(settings.resolved_database_url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        before, _ = migration_state(engine)
        migrate(engine)
        after, _ = migration_state(engine)
    except SQLAlchemyError as exc:
        print(f"digitlab migrate: {where}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    change = "already up to date" if before == after else f"upgraded from {sorted(before) or 'an empty database'}"
    print(f"digitlab migrate: {where} is at {sorted(after)} ({change})")
    return 0


def _worker(args: argparse.Namespace) -> int:
    from digitlab.jobs.celery_app import ping_worker, run_worker
    from digitlab.jobs.queue import Lane

    if args.ping:
        return 0 if ping_worker(name=args.name) else 1
    if args.concurrency is not None and args.concurrency < 1:
        print("digitlab worker: --concurrency must be at least 1", file=sys.stderr)
        return 2
    lane = Lane(args.lane) if args.lane else None
    return run_worker(concurrency=args.concurrency, name=args.name, loglevel=args.loglevel, lane=lane)


def _extract(args: argparse.Namespace) -> int:
    from digitlab.extraction.offline import extract_files

    labels = [label.strip() for label in args.labels.split(",")]
    if len(labels) != 10:
        print(f"digitlab extract: --labels needs 10 labels, got {len(labels)}", file=sys.stderr)
        return 2
    manifest = extract_files(args.pages, args.out, labels)
    failed = sum(page["status"] == "failed" for page in manifest["pages"])
    kept = sum(cell["kept"] for page in manifest["pages"] for cell in page["cells"])
    print(
        json.dumps(
            {
                "pages": len(manifest["pages"]),
                "failed_pages": failed,
                "kept": kept,
                "manifest": str(args.out / "manifest.json"),
            }
        )
    )
    return 1 if failed == len(manifest["pages"]) else 0


def _train(args: argparse.Namespace) -> int:
    from digitlab.core.storage import FileStorage
    from digitlab.datasets.formats import DatasetFileError, read_dataset_path
    from digitlab.ml import architectures, export, workflow
    from digitlab.ml.augment import Augmentation
    from digitlab.ml.data import DatasetTooSmall

    try:
        images, y, labels = read_dataset_path(args.dataset)
        layers = architectures.preset(args.arch, len(labels), args.activation)

        def on_epoch(entry: dict) -> None:
            print(
                json.dumps(
                    {
                        "epoch": entry["epoch"],
                        "loss": round(entry["loss"], 4),
                        "accuracy": round(entry["accuracy"], 4),
                        "val_loss": round(entry["val_loss"], 4),
                        "val_accuracy": round(entry["val_accuracy"], 4),
                    }
                ),
                file=sys.stderr,
            )

        outcome = workflow.fit_and_evaluate(
            images,
            y,
            labels,
            layers,
            epochs=args.epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            early_stopping=args.early_stopping or None,
            augmentation=Augmentation() if args.augment else None,
            lr_schedule=args.lr_schedule,
            on_epoch=on_epoch,
        )
    except (DatasetFileError, DatasetTooSmall, OSError, KeyError, ValueError) as exc:
        print(f"digitlab train: {exc}", file=sys.stderr)
        return 2
    if outcome.onnx is None:  # only a cancelled training has none, and nothing cancels this one
        raise RuntimeError("the training ended without a model")
    out = FileStorage(args.out)
    export.save_keras(outcome.result.model, out.path("model.keras"))
    out.write("model.onnx", outcome.onnx)
    report = workflow.report(outcome) | {
        "architecture": args.arch,
        "activation": args.activation,
        "seed": args.seed,
        "settings": outcome.result.settings,
    }
    out.write("report.json", json.dumps(report, indent=1).encode())
    print(
        json.dumps({"test_accuracy": report["test_accuracy"], "test_loss": report["test_loss"], "out": str(args.out)})
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

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
        y = np.array([model.labels.index(labels[i]) for i in y])
    evaluation = evaluate_probabilities(model.predict(images), y, model.labels).to_dict()
    print(
        json.dumps({key: evaluation[key] for key in ("accuracy", "count", "confusion", "loss", "per_label", "labels")})
    )
    return 0


def _admin(args: argparse.Namespace) -> int:
    """`digitlab admin create|invite-teacher` on the database of DIGITLAB_* (migrated first, like `serve`)."""
    import getpass

    from digitlab.auth import service as auth_service
    from digitlab.core.config import get_settings
    from digitlab.core.db import open_database, unit_of_work
    from digitlab.core.errors import DomainError

    where = f"digitlab admin {args.admin_command}"
    if args.admin_command == "create":
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass("Password for the new admin: ")
            if getpass.getpass("The same password again: ") != password:
                print(f"{where}: the passwords differ; nothing was created", file=sys.stderr)
                return 2
    settings = get_settings()
    engine = open_database(settings)
    try:
        with unit_of_work(engine) as session:
            if args.admin_command == "create":
                user = auth_service.create_admin(session, settings, args.username, password)
                print(f"{where}: the admin account {user.username!r} was created")
            else:
                invite, code = auth_service.create_teacher_invite(session, settings, None, args.days)
                base = (args.app_url if args.app_url is not None else settings.app_url).rstrip("/")
                link = base + auth_service.invite_link(code)
                print(json.dumps({"code": code, "link": link, "expires_at": invite.expires_at.isoformat()}))
    except DomainError as exc:
        print(f"{where}: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
