"""Browser end-to-end test: starts the real service on a free port and drives headless Chromium through
tests/e2e/main_flow.mjs (node + playwright-core, the browser from /usr/bin/chromium). Screenshots land in
test-artifacts/e2e/; the playground's ms per update is printed (run pytest with -s to see it)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import pytest

from tests.pipeline import synth

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    if not shutil.which("node"):
        return "node is not installed"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (scripts/setup installs it)"
    if not (ROOT / "frontend/node_modules/playwright-core").is_dir():
        return "frontend/node_modules is missing (scripts/setup runs npm ci)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_student_workflow_in_chromium(tmp_path: Path) -> None:
    if reason := _missing():
        pytest.skip(reason)
    scans = tmp_path / "scans"
    scans.mkdir()
    for seed in (1, 2):
        page = synth.render_sheet(dpi=150, seed=seed)
        cv2.imwrite(str(scans / f"page{seed}.png"), synth.scan(page, seed=seed).gray)

    port = _free_port()
    env = {**os.environ, "DIGITLAB_DATA_DIR": str(tmp_path / "data"), "DIGITLAB_JOB_PREWARM": "false"}
    server = subprocess.Popen([sys.executable, "-m", "digitlab.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/health", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the service did not start")
                time.sleep(0.3)
        result = subprocess.run(["node", str(ROOT / "tests/e2e/main_flow.mjs"), "--base", base, "--scans", str(scans),
                                 "--out", str(ROOT / "test-artifacts/e2e"), "--chromium", CHROMIUM],
                                cwd=ROOT, capture_output=True, text=True, timeout=900)
        print(result.stdout)
        print(result.stderr, file=sys.stderr)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
