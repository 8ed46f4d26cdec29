"""Command line: `digitlab serve` runs the service; `digitlab extract` runs the pipeline without a server."""

import argparse
import json
import sys
from pathlib import Path

from digitlab.pipeline.template import DIGIT_LABELS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="digitlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web service (settings from DIGITLAB_* variables)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    extract = commands.add_parser("extract", help="cut the cells of scanned grid sheets into 28x28 PNGs")
    extract.add_argument("pages", nargs="+", type=Path, metavar="PAGE", help="PNG, JPEG, TIFF or PDF files")
    extract.add_argument("--out", required=True, type=Path, help="folder for manifest.json and the PNGs")
    extract.add_argument("--labels", default=",".join(DIGIT_LABELS),
                         help="ten comma-separated labels, one per group of three rows (default 0..9)")

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _extract(args)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run("digitlab.main:create_app", factory=True, host=args.host, port=args.port)
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


if __name__ == "__main__":
    sys.exit(main())
