"""Browser end-to-end tests: start the real service on a free port and drive headless Chromium through the
node scripts beside this file (node + playwright-core, the browser from /usr/bin/chromium). Screenshots land
in test-artifacts/e2e/; the playground's ms per update is printed (run pytest with -s to see it)."""

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import pytest

from tests.api import scanpages
from tests.api.live import live_service
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


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real service (`digitlab serve`) on a free port; yields its base URL."""
    if reason := _missing():
        pytest.skip(reason)
    with live_service(tmp_path_factory.mktemp("e2e")) as live:
        yield live.base


def _run_node(script: str, *args: str) -> None:
    result = subprocess.run(["node", str(ROOT / "tests/e2e" / script), *args, "--chromium", CHROMIUM],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    print(result.stdout)
    print(result.stderr, file=sys.stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


class _Recorder(BaseHTTPRequestHandler):
    """Another server on the network: remembers every request that reaches it, whatever its method."""

    seen: list[str] = []

    def _record(self) -> None:
        self.seen.append(f"{self.command} {self.path} auth={self.headers.get('Authorization')!r}")
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _record

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_a_link_naming_another_api_server_sends_it_nothing(service: str) -> None:
    """Hardening point 1: `/?api=http://attacker/` once sent the student's token (and later the password)
    to the attacker. The API base is now a deployment setting; the attacker sees no request at all."""
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        _run_node("api_link.mjs", "--base", service, "--attacker", f"http://127.0.0.1:{attacker.server_port}")
    finally:
        attacker.shutdown()
    assert _Recorder.seen == []


def _two_scanned_sheets(tmp_path: Path) -> Path:
    """A folder with two synthetic scanned sheets (enough samples to train a network on)."""
    scans = tmp_path / "scans"
    scans.mkdir()
    for seed in (1, 2):
        page = synth.render_sheet(dpi=150, seed=seed)
        cv2.imwrite(str(scans / f"page{seed}.png"), synth.scan(page, seed=seed).gray)
    return scans


@pytest.mark.slow
def test_student_workflow_in_chromium(service: str, tmp_path: Path) -> None:
    scans = _two_scanned_sheets(tmp_path)
    _run_node("main_flow.mjs", "--base", service, "--scans", str(scans), "--out", str(ROOT / "test-artifacts/e2e"))


@pytest.mark.slow
def test_corners_placed_by_hand_on_a_phone_screen(service: str, tmp_path: Path) -> None:
    """Issue 12: a page whose grid is not found; at 390 px wide the student drags its four corners into place
    and the page is read with them (screenshots corners-*.png)."""
    page, corners, _ = scanpages.damaged_page()
    path = tmp_path / "folded.png"
    cv2.imwrite(str(path), page)
    _run_node("corners.mjs", "--base", service, "--scan", str(path), "--corners", json.dumps(corners),
              "--out", str(ROOT / "test-artifacts/e2e"))


@pytest.mark.slow
def test_a_class_learns_together_in_chromium(tmp_path: Path) -> None:
    """Issue 10: an admin invites a teacher; the teacher makes a class and a join code; three students join in their
    own browsers, upload a sheet each and the roster follows live; the class data set; a training tested on the
    other writers; the challenge and its leaderboard; a student's project read-only; login cards with the forced
    password change; a student's export and deletion. Its own service: the first account of an empty instance is
    the admin. Screenshots at 1366x768: class-*.png."""
    if reason := _missing():
        pytest.skip(reason)
    scans = tmp_path / "scans"
    scans.mkdir()
    for seed in (1, 2, 3, 4):  # three students' sheets and the teacher's challenge sheet
        page = synth.render_sheet(dpi=150, seed=seed)
        cv2.imwrite(str(scans / f"sheet{seed}.png"), synth.scan(page, seed=seed).gray)
    (tmp_path / "service").mkdir()
    with live_service(tmp_path / "service") as live:
        out = str(ROOT / "test-artifacts/e2e")
        _run_node("class_flow.mjs", "--base", live.base, "--scans", str(scans), "--out", out,
                  "--python", sys.executable)


@pytest.mark.slow
def test_the_playground_fits_a_laptop_and_a_phone_and_keeps_up_with_the_pen(service: str, tmp_path: Path) -> None:
    """Issue 14, playground: pad, every layer and the labelled outputs on one 1366x768 screen (MLP and CNN, English
    and German), stacked on a 390x844 phone, values before the activation function, a test sample on the pad (also
    from a mistake on the training's page). Prints the time from a pointer event to the painted frame that shows
    its result ("PLAYGROUND ..." lines; pytest -s). Screenshots: playground-*.png."""
    scans = _two_scanned_sheets(tmp_path)
    _run_node("playground.mjs", "--base", service, "--scans", str(scans), "--out", str(ROOT / "test-artifacts/e2e"))


@pytest.mark.slow
def test_screens_fit_a_laptop_and_a_phone_and_pass_axe(service: str) -> None:
    """Issue 14, screens: at 1366x768 and 390x844, in English and German, no screen scrolls sideways, axe-core finds
    no serious or critical problem and focus lands on the new screen's heading; the dataset's multi-select, keys,
    inline relabel confirmation and where a sample came from; export; API tokens; the example pages (screens-*.png)."""
    _run_node("screens.mjs", "--base", service, "--out", str(ROOT / "test-artifacts/e2e"))


@pytest.mark.slow
def test_the_api_docs_work_offline(service: str) -> None:
    """Hardening point 9: /docs and /redoc loaded their scripts from a CDN and were blank offline."""
    _run_node("docs_offline.mjs", "--base", service)


@pytest.mark.slow
def test_account_screen_changes_the_password_and_ends_sessions(service: str) -> None:
    """The account screen: a wrong or weak password is explained, the change keeps this login and ends the others,
    the new password logs in; "log out there" and "log out everywhere else" end other devices' logins; too many
    wrong passwords slow the login down with a wait the student can read. Screenshots: account-*.png."""
    _run_node("account.mjs", "--base", service, "--out", str(ROOT / "test-artifacts/e2e"))
