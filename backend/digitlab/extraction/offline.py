"""Extraction without a server (the CLI): the same pipeline, results written to a folder."""

import json
from pathlib import Path

from digitlab.core.storage import FileStorage
from digitlab.pipeline import GridNotFound, extract_page
from digitlab.pipeline.decode import ImageRejected, decode_path
from digitlab.pipeline.imageio import encode_png


def extract_files(paths: list[Path], out_dir: Path, labels: list[str]) -> dict:
    """Writes out_dir/manifest.json and out_dir/cells/<page>/<row>_<col>.png; returns the manifest."""
    out = FileStorage(out_dir)
    pages = []
    for path in paths:
        try:
            decoded = decode_path(path).pages
        except (ImageRejected, OSError) as exc:
            message = exc.message if isinstance(exc, ImageRejected) else f"cannot read the file: {exc}"
            pages.append(_failed(str(path), None, message))
            continue
        for page in decoded:
            page_number = len(pages)
            try:
                extraction = extract_page(page.gray, labels)
            except GridNotFound as exc:
                pages.append(_failed(str(path), page.index if len(decoded) > 1 else None, str(exc)))
                continue
            cells = []
            for cell in extraction.cells:
                image = None
                if cell.status == "kept" and cell.image is not None:  # only blank cells have no image
                    image = f"cells/{page_number}/{cell.row:02d}_{cell.col:02d}.png"
                    out.write(image, encode_png(cell.image))
                cells.append(
                    {
                        "row": cell.row,
                        "col": cell.col,
                        "label": cell.label,
                        "kept": cell.status == "kept",
                        "reason": cell.reason,
                        "image": image,
                    }
                )
            entry: dict[str, object] = {
                "file": str(path),
                "status": "ok",
                "error": None,
                "corners": [[round(float(x), 1), round(float(y), 1)] for x, y in extraction.corners],
                "cells": cells,
            }
            if len(decoded) > 1:
                entry["page"] = page.index
            pages.append(entry)
    manifest = {"pages": pages}
    out.write("manifest.json", json.dumps(manifest, indent=1).encode())
    return manifest


def _failed(file: str, page_index: int | None, error: str) -> dict:
    entry: dict[str, object] = {"file": file, "status": "failed", "error": error, "corners": None, "cells": []}
    if page_index is not None:
        entry["page"] = page_index
    return entry
