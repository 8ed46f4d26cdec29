"""The layers stay apart: services, jobs, the pipeline and the ML code never load the web framework.

Only the web layer (digitlab/api/, main.py, web.py, the routers and the HTML pages a router answers browser flows
with, `pages.py`) may import FastAPI, Starlette or digitlab.api;
everything else raises digitlab.core.errors.DomainError and is usable from a worker or a notebook.
"""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "backend" / "digitlab"
WEB_PREFIXES = ("fastapi", "starlette", "digitlab.api")


def is_web_layer(path: Path) -> bool:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] == "api" or relative.name in ("router.py", "pages.py") or str(relative) in ("main.py", "web.py")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_web_layer_imports_the_web_framework():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(name for name in imported_modules(path) if name.startswith(WEB_PREFIXES))
        for path in sorted(PACKAGE.rglob("*.py")) if not is_web_layer(path)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_worker_side_modules_load_without_fastapi():
    """What a job worker imports, in a fresh interpreter: FastAPI must not come along (not even indirectly)."""
    modules = ["digitlab.extraction.jobs", "digitlab.training.jobs", "digitlab.jobs.worker"]
    modules += sorted(f"digitlab.{path.parent.name}.service" for path in PACKAGE.glob("*/service.py"))
    code = (f"import importlib, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette')"
            " or m.startswith('digitlab.api')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=PACKAGE.parents[1])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"loaded by the worker-side modules: {result.stdout.strip()}"
