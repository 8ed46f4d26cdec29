"""A class of students at once, on loopback, against the scaled-out setup.

Starts PostgreSQL-backed `digitlab serve` (Celery job backend) and `--workers` Celery workers (`digitlab
worker`, Redis broker), then simulates `--students` students: each registers, creates a project, uploads two
generated pages, extracts them and looks at the dataset; every third also imports a small dataset, trains a
small model and watches it on the WebSocket. Prints the latency of ordinary API requests (p50/p95/p99),
errors, lost jobs and how long the class waited for its jobs.

    .venv/bin/python benchmarks/load_class.py [--students 30] [--workers 2] [--epochs 3]

Needs the local PostgreSQL (127.0.0.1:5432, trust) and Redis (127.0.0.1:6379). All traffic stays on loopback;
every loop is bounded in count and time.
"""

import argparse
import asyncio
import io
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import psycopg
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "class load test pw"
JOB_TIMEOUT = 600.0  # seconds a student waits for one job at most


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_pages(count: int) -> list[bytes]:
    import cv2

    from tests.pipeline import synth

    pages = []
    for seed in range(count):
        page = synth.scan(synth.render_sheet(dpi=150, seed=seed), seed=seed, rotate=(-1) ** seed * 2.0)
        pages.append(cv2.imencode(".png", page.gray)[1].tobytes())
    return pages


def make_training_npz() -> bytes:
    from digitlab.ml.synthetic import make_digits

    x, y = make_digits(30)[:2]
    buffer = io.BytesIO()
    np.savez(buffer, x_train=x, y_train=y)
    return buffer.getvalue()


class Recorder:
    def __init__(self):
        self.latency: dict[str, list[float]] = defaultdict(list)  # category -> seconds
        self.by_route: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    async def call(self, client: httpx.AsyncClient, category: str, method: str, url: str, route: str,
                   **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.errors.append(f"{method} {route}: {type(exc).__name__}: {exc}")
            return None
        elapsed = time.perf_counter() - started
        self.latency[category].append(elapsed)
        self.by_route[f"{method} {route}"].append(elapsed)
        if response.status_code >= 400:
            self.errors.append(f"{method} {route}: {response.status_code} {response.text[:200]}")
            return None
        return response


async def student(number: int, base: str, ws_base: str, pages: list[bytes], npz: bytes, trains: bool,
                  epochs: int, rec: Recorder, outcome: dict) -> None:
    await asyncio.sleep(number * 0.1)  # a class does not click in the same millisecond
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        name = f"student{number:02d}_{secrets.token_hex(3)}"
        if await rec.call(client, "auth", "POST", "/api/auth/register", "/api/auth/register",
                          json={"username": name, "password": PASSWORD}) is None:
            return
        login = await rec.call(client, "auth", "POST", "/api/auth/login", "/api/auth/login",
                               json={"username": name, "password": PASSWORD})
        if login is None:
            return
        token = login.json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        project = await rec.call(client, "ordinary", "POST", "/api/projects", "/api/projects", json={"name": name})
        if project is None:
            return
        pid = project.json()["id"]
        await rec.call(client, "ordinary", "GET", "/api/projects", "/api/projects")
        for i in range(2):
            page = pages[(number + i) % len(pages)]
            await rec.call(client, "upload", "POST", f"/api/projects/{pid}/scans", "/api/projects/{id}/scans",
                           files={"files": (f"page{i}.png", page, "image/png")})
        await rec.call(client, "ordinary", "GET", f"/api/projects/{pid}/scans", "/api/projects/{id}/scans")
        job = await rec.call(client, "ordinary", "POST", f"/api/projects/{pid}/extractions",
                             "/api/projects/{id}/extractions", json={})
        if job is None:
            return
        outcome["jobs"].append(job.json()["id"])
        await wait_job(client, rec, job.json()["id"])
        await rec.call(client, "ordinary", "GET", f"/api/projects/{pid}/dataset", "/api/projects/{id}/dataset")
        await rec.call(client, "ordinary", "GET", f"/api/projects/{pid}/dataset/cells?limit=100",
                       "/api/projects/{id}/dataset/cells")
        if not trains:
            return
        await rec.call(client, "upload", "POST", f"/api/projects/{pid}/dataset/import",
                       "/api/projects/{id}/dataset/import", files={"file": ("mnist.npz", npz)})
        training = await rec.call(client, "ordinary", "POST", f"/api/projects/{pid}/trainings",
                                  "/api/projects/{id}/trainings", json={"architecture": "mlp", "epochs": epochs})
        if training is None:
            return
        body = training.json()
        outcome["jobs"].append(body["job_id"])
        url = f"{ws_base}/api/projects/{pid}/trainings/{body['id']}/ws?token={token}"
        try:
            async with websockets.connect(url, open_timeout=30) as socket_:
                deadline = time.monotonic() + JOB_TIMEOUT
                while time.monotonic() < deadline:
                    message = json.loads(await asyncio.wait_for(socket_.recv(), timeout=JOB_TIMEOUT))
                    if message["type"] == "end":
                        outcome["trainings"].append(message["status"])
                        break
        except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
            rec.errors.append(f"WS training stream: {type(exc).__name__}: {exc}")
        await rec.call(client, "ordinary", "GET", f"/api/projects/{pid}/trainings", "/api/projects/{id}/trainings")


async def wait_job(client: httpx.AsyncClient, rec: Recorder, job_id: int) -> None:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        response = await rec.call(client, "ordinary", "GET", f"/api/jobs/{job_id}", "/api/jobs/{id}")
        if response is not None and response.json()["status"] in ("succeeded", "failed", "cancelled"):
            return
        await asyncio.sleep(0.5)
    rec.errors.append(f"job {job_id} did not finish within {JOB_TIMEOUT} s")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def report(rec: Recorder, jobs: list[dict], outcome: dict, seconds: float, args: argparse.Namespace) -> None:
    print(f"\nclass of {args.students} students ({len(outcome['trainers'])} training), {args.workers} Celery workers, "
          f"PostgreSQL + Redis on loopback; wall time {seconds:.1f} s")
    print(f"{'requests':<22}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for category in ("ordinary", "auth", "upload"):
        values = rec.latency.get(category, [])
        print(f"{category:<22}{len(values):>7}{percentile(values, 50):>9.1f}{percentile(values, 95):>9.1f}"
              f"{percentile(values, 99):>9.1f}{(max(values) * 1000 if values else float('nan')):>9.1f}")
    slowest = sorted(rec.by_route.items(), key=lambda item: -np.percentile(item[1], 95))[:5]
    print("slowest routes by p95: " + "; ".join(f"{route} {percentile(v, 95):.0f} ms (n={len(v)})"
                                                 for route, v in slowest))
    statuses = defaultdict(int)
    for job in jobs:
        statuses[job["status"]] += 1
    waits = [job["wait"] for job in jobs if job["wait"] is not None]
    totals = [job["total"] for job in jobs if job["total"] is not None]
    lost = sum(1 for job in jobs if job["status"] not in ("succeeded",))
    print(f"jobs: {len(jobs)} ({dict(statuses)}); lost or not succeeded: {lost}; "
          f"trainings ended: {dict((s, outcome['trainings'].count(s)) for s in set(outcome['trainings']))}")
    if waits:
        print(f"job queue wait (created -> started): median {statistics.median(waits):.1f} s, max {max(waits):.1f} s; "
              f"created -> finished: median {statistics.median(totals):.1f} s, max {max(totals):.1f} s")
    print(f"errors: {len(rec.errors)}")
    for error in rec.errors[:10]:
        print(f"  {error}")
    target = percentile(rec.latency.get("ordinary", []), 95)
    print(f"targets: zero errors -> {'met' if not rec.errors else 'NOT met'}; zero lost jobs -> "
          f"{'met' if lost == 0 else 'NOT met'}; p95 of ordinary requests < 200 ms -> "
          f"{'met' if target < 200 else 'NOT met'} ({target:.0f} ms)")


def job_rows(database_url: str, ids: list[int]) -> list[dict]:
    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        rows = connection.execute(
            "SELECT id, status, created_at, started_at, finished_at FROM jobs WHERE id = ANY(%s)", (ids,)).fetchall()
    return [{"id": r[0], "status": r[1],
             "wait": (r[3] - r[2]).total_seconds() if r[3] else None,
             "total": (r[4] - r[2]).total_seconds() if r[4] else None} for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5)
    database = f"digitlab_load_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{database}"')
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
    data_dir = Path(tempfile.mkdtemp(prefix="digitlab-load-"))
    queue = f"digitlab-load-{secrets.token_hex(3)}"
    port = free_port()
    env = {**os.environ, "DIGITLAB_DATA_DIR": str(data_dir), "DIGITLAB_DATABASE_URL": database_url,
           "DIGITLAB_JOB_BACKEND": "celery", "DIGITLAB_CELERY_BROKER_URL": REDIS_URL,
           "DIGITLAB_CELERY_QUEUE": queue, "DIGITLAB_JOB_CONCURRENCY": "1"}
    digitlab = [sys.executable, "-m", "digitlab.cli"]
    processes: list[subprocess.Popen] = []
    logs = data_dir / "logs"
    logs.mkdir()
    try:
        print("generating pages and data ...", flush=True)
        pages, npz = make_pages(4), make_training_npz()
        api = subprocess.Popen([*digitlab, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                               stdout=open(logs / "api.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(api)
        for i in range(args.workers):
            processes.append(subprocess.Popen([*digitlab, "worker", "--name", f"load{i}@%h"], env=env,
                                              stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT,
                                              start_new_session=True))
        base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                print("the service did not start; see", logs / "api.log")
                return 1
            time.sleep(0.3)
        time.sleep(10)  # let the workers connect and preload before the class arrives
        rec, outcome = Recorder(), {"jobs": [], "trainings": [], "trainers": []}
        trainers = set(range(0, args.students, 3))
        outcome["trainers"] = sorted(trainers)
        print(f"{args.students} students start ...", flush=True)
        started = time.perf_counter()

        async def run_class() -> None:
            await asyncio.gather(*(student(n, base, ws_base, pages, npz, n in trainers, args.epochs, rec, outcome)
                                   for n in range(args.students)))

        asyncio.run(run_class())
        seconds = time.perf_counter() - started
        report(rec, job_rows(database_url, outcome["jobs"]), outcome, seconds, args)
        return 0
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    sys.exit(main())
