"""The real service (`digitlab serve`, uvicorn with its access log) on a free port, for tests that need what only
a real server shows: its log lines, its HTTP handling, a fuzzer talking to it over the network."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TEST_JOB_NICE, fresh_database_url

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveService:
    base: str
    log: Path  # the server's stdout and stderr (uvicorn's access and error logs)
    process: subprocess.Popen

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_service(folder: Path, **env: str) -> Iterator[LiveService]:
    port = free_port()
    log = folder / "server.log"
    # SQLite in the data folder, or (DIGITLAB_TEST_DATABASE=postgres) a fresh PostgreSQL database.
    environment = {**os.environ, "DIGITLAB_DATA_DIR": str(folder / "data"), "DIGITLAB_JOB_PREWARM": "false",
                   "DIGITLAB_JOB_NICE": str(TEST_JOB_NICE), "DIGITLAB_EXTRACTION_NICE": str(TEST_JOB_NICE),
                   "DIGITLAB_DATABASE_URL": fresh_database_url(), "PYTHONUNBUFFERED": "1", **env}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "digitlab.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
    service = LiveService(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{service.base}/api/health", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"the service did not start:\n{service.log_text()[-3000:]}") from None
                time.sleep(0.2)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict | None]:
    """(status, JSON answer or None) for one request; 4xx and 5xx are returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None
