"""A lesson: a teacher with the roster open and a class of students working at once, on loopback, with each job
backend.

For each backend (`--backend both`: the embedded one, then Celery) it starts `digitlab serve` (embedded: SQLite
and the service's own workers; Celery: PostgreSQL, Redis and `--workers` `digitlab worker` processes), then:

- the teacher (the instance's first account: its admin) creates a class and a join code, and keeps the class's
  roster open on its WebSocket (/api/classes/{id}/roster/ws) for the whole lesson;
- `--students` students join with the code (new accounts), each creates a project, uploads two generated pages,
  extracts them (polling the job) and looks at the dataset; every third also imports a small dataset, trains a
  small model and watches it on the training's WebSocket (queue place, progress, end).

Job slots are the same for both backends: `--workers` training slots and `--workers` warm extraction processes
(embedded: DIGITLAB_JOB_CONCURRENCY and DIGITLAB_EXTRACTION_CONCURRENCY; Celery: that many workers of one slot
each per lane). Printed per backend: latency of ordinary API requests (p50/p95/p99), how long the roster takes to
show a student's upload and extraction, extraction request-to-samples (p95), job start waits (median/max), and
the error of the queue's estimates (the first estimated start and end a waiting job was told, against when it
really started and ended).

    .venv/bin/python benchmarks/load_class.py [--students 30] [--workers 2] [--epochs 3] [--backend both]

Celery needs the local PostgreSQL (127.0.0.1:5432, trust) and Redis (127.0.0.1:6379). All traffic stays on
loopback; every loop is bounded in count and time.
"""

import argparse
import asyncio
import contextlib
import io
import json
import os
import secrets
import signal
import socket
import ssl
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "class load test pw"
TEACHER = "teacher_load"
JOB_TIMEOUT = 600.0  # seconds a student waits for one job at most
JOB_POLL = 0.5  # how often a student's page asks about its extraction
FINISHED = ("succeeded", "failed", "cancelled")
# One TLS context for every client: each new httpx client would otherwise load the system's CA certificates, about
# 40 ms of this script's own event loop per student, which the answers waiting behind it counted as service latency.
# The traffic is plain HTTP on loopback; the context is never used.
CLIENT_TLS = ssl.create_default_context()


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


def moment(text: str) -> datetime:
    """An ISO time of the server (UTC) as an aware datetime."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)  # category -> seconds
        self.by_route: dict[str, list[float]] = defaultdict(list)
        self.in_service: dict[str, list[float]] = defaultdict(list)  # category -> seconds, from Server-Timing
        self.in_service_by_route: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.first_estimate: dict[int, dict] = {}  # job id -> the first queue place it was told
        self.last_estimate: dict[int, dict] = {}  # job id -> the last one, before it started
        self.extraction_seconds: list[float] = []  # request sent -> the student's page sees the samples
        self.roster_waits: dict[str, list[float]] = defaultdict(list)  # what changed -> seconds until shown
        self.roster_updates = 0
        self.roster_source = "none"
        self.started = time.perf_counter()
        # (seconds into the lesson, route, seconds the client waited beyond the service's own time)
        self.outside: list[tuple[float, str, float]] = []
        self.ordinary_at: list[tuple[float, float]] = []  # (seconds into the lesson, seconds) of ordinary requests

    async def call(self, client: httpx.AsyncClient, category: str, method: str, url: str, route: str, **kwargs):
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.errors.append(f"{method} {route}: {type(exc).__name__}: {exc}")
            return None
        elapsed = time.perf_counter() - started
        self.latency[category].append(elapsed)
        if category == "ordinary":
            self.ordinary_at.append((started - self.started, elapsed))
        self.by_route[f"{method} {route}"].append(elapsed)
        if (timing := response.headers.get("server-timing", "")).startswith("app;dur="):
            self.in_service[category].append(float(timing.removeprefix("app;dur=")) / 1000)
            self.in_service_by_route[f"{method} {route}"].append(self.in_service[category][-1])
            self.outside.append((started - self.started, f"{method} {route}", elapsed - self.in_service[category][-1]))
        if response.status_code >= 400:
            self.errors.append(f"{method} {route}: {response.status_code} {response.text[:200]}")
            return None
        return response

    def estimate_seen(self, job_id: int, place: dict | None) -> None:
        if place:
            self.first_estimate.setdefault(job_id, place)
            self.last_estimate[job_id] = place


class RosterWatch:
    """The teacher's open roster: each student's latest row, and when each change arrived (monotonic clock)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}
        self.changed = asyncio.Event()

    def update(self, roster: dict) -> None:
        for row in roster["students"]:
            self.rows[row["nickname"]] = row
        self.changed.set()

    async def wait_for(self, nickname: str, shows, timeout: float = 60.0) -> float | None:
        """Seconds until the roster shows `shows(row)` for the student (None: not within `timeout`)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            row = self.rows.get(nickname)
            if row is not None and shows(row):
                return time.monotonic() - started
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=1.0)
        return None


async def keep_roster_open(base: str, ws_base: str, token: str, class_id: int, watch: RosterWatch, rec: Recorder,
                           stop: asyncio.Event) -> None:
    """The roster's WebSocket for the whole lesson (polling GET /roster once a second if the socket is refused)."""
    url = f"{ws_base}/api/classes/{class_id}/roster/ws"
    try:
        async with websockets.connect(url, open_timeout=30, additional_headers={"Authorization": f"Bearer {token}"},
                                      max_size=2**24, ping_interval=None) as socket_:
            rec.roster_source = "websocket"
            while not stop.is_set():
                try:
                    message = await asyncio.wait_for(socket_.recv(), timeout=0.5)
                except TimeoutError:
                    continue
                rec.roster_updates += 1
                watch.update(json.loads(message))
            return
    except (OSError, websockets.WebSocketException) as exc:
        rec.errors.append(f"roster WebSocket: {type(exc).__name__}: {exc}; polling instead")
    rec.roster_source = "polling GET /roster every 1 s"
    async with httpx.AsyncClient(base_url=base, timeout=60, verify=CLIENT_TLS,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        while not stop.is_set():
            response = await rec.call(client, "ordinary", "GET", f"/api/classes/{class_id}/roster",
                                      "/api/classes/{id}/roster")
            if response is not None:
                rec.roster_updates += 1
                watch.update(response.json())
            await asyncio.sleep(1.0)


async def wait_job(client: httpx.AsyncClient, rec: Recorder, job_id: int) -> dict | None:
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        response = await rec.call(client, "ordinary", "GET", f"/api/jobs/{job_id}", "/api/jobs/{id}")
        if response is not None:
            job = response.json()
            rec.estimate_seen(job_id, job.get("queue"))
            if job["status"] in FINISHED:
                return job
        await asyncio.sleep(JOB_POLL)
    rec.errors.append(f"job {job_id} did not finish within {JOB_TIMEOUT} s")
    return None


async def student(number: int, base: str, ws_base: str, code: str, pages: list[bytes], npz: bytes, trains: bool,
                  epochs: int, rec: Recorder, outcome: dict, roster: RosterWatch) -> None:
    await asyncio.sleep(number * 0.1)  # a class does not click in the same millisecond
    async with httpx.AsyncClient(base_url=base, timeout=120, verify=CLIENT_TLS) as client:
        name = f"s{number:02d}_{secrets.token_hex(3)}"
        joined = await rec.call(client, "auth", "POST", "/api/join", "/api/join",
                                json={"code": code, "username": name, "password": PASSWORD})
        if joined is None:
            return
        token = joined.json()["access_token"]
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
        shown = await roster.wait_for(name, lambda row: row["pages_uploaded"] >= 2)
        outcome["roster_misses"] += shown is None
        if shown is not None:
            rec.roster_waits["upload"].append(shown)
        await rec.call(client, "ordinary", "GET", f"/api/projects/{pid}/scans", "/api/projects/{id}/scans")
        asked = time.monotonic()
        job = await rec.call(client, "ordinary", "POST", f"/api/projects/{pid}/extractions",
                             "/api/projects/{id}/extractions", json={})
        if job is None:
            return
        outcome["jobs"].append(job.json()["id"])
        done = await wait_job(client, rec, job.json()["id"])
        if done is not None and done["status"] == "succeeded":
            rec.extraction_seconds.append(time.monotonic() - asked)
            shown = await roster.wait_for(name, lambda row: row["samples_kept"] > 0)
            outcome["roster_misses"] += shown is None
            if shown is not None:
                rec.roster_waits["extraction"].append(shown)
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
        rec.estimate_seen(body["job_id"], body.get("queue"))
        url = f"{ws_base}/api/projects/{pid}/trainings/{body['id']}/ws"
        try:
            async with websockets.connect(url, open_timeout=30, ping_interval=None,
                                          additional_headers={"Authorization": f"Bearer {token}"}) as socket_:
                deadline = time.monotonic() + JOB_TIMEOUT
                while time.monotonic() < deadline:
                    message = json.loads(await asyncio.wait_for(socket_.recv(), timeout=JOB_TIMEOUT))
                    if message["type"] == "queue":
                        rec.estimate_seen(body["job_id"], message)
                    if message["type"] == "end":
                        outcome["trainings"].append(message["status"])
                        break
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            rec.errors.append(f"WS training stream: {type(exc).__name__}: {exc}")
        await rec.call(client, "ordinary", "GET", f"/api/projects/{pid}/trainings", "/api/projects/{id}/trainings")


async def teacher_opens_class(base: str) -> tuple[str, int, str]:
    """The instance's first account (its admin, who may teach) creates the class and a join code."""
    async with httpx.AsyncClient(base_url=base, timeout=60, verify=CLIENT_TLS) as client:
        response = await client.post("/api/auth/register", json={"username": TEACHER, "password": PASSWORD})
        response.raise_for_status()
        login = await client.post("/api/auth/login", json={"username": TEACHER, "password": PASSWORD})
        login.raise_for_status()
        token = login.json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        created = await client.post("/api/classes", json={"name": "Class 8b"})
        created.raise_for_status()
        class_id = created.json()["id"]
        code = await client.post(f"/api/classes/{class_id}/join-codes", json={})
        code.raise_for_status()
        return token, class_id, code.json()["code"]


# --- figures ------------------------------------------------------------------------------------------------
def ms(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def seconds_summary(values: list[float]) -> str:
    if not values:
        return "n=0"
    return (f"median {statistics.median(values):.2f} s, p95 {np.percentile(values, 95):.2f} s, "
            f"max {max(values):.2f} s (n={len(values)})")


def job_rows(database_url: str, ids: list[int]) -> list[dict]:
    query = "SELECT id, kind, status, created_at, started_at, finished_at FROM jobs WHERE id IN (%s)"
    if database_url.startswith("sqlite"):
        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as connection:
            rows = connection.execute(query % ",".join("?" * len(ids)), ids).fetchall()
        parse = lambda value: moment(value) if value else None  # noqa: E731
    else:
        import psycopg

        with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
            rows = connection.execute(query % ",".join(["%s"] * len(ids)), ids).fetchall()
        parse = lambda value: value.replace(tzinfo=UTC) if value else None  # noqa: E731
    return [{"id": r[0], "kind": r[1], "status": r[2], "created_at": parse(r[3]), "started_at": parse(r[4]),
             "finished_at": parse(r[5])} for r in rows]


def report(name: str, rec: Recorder, jobs: list[dict], outcome: dict, seconds: float, args) -> dict:
    print(f"\n=== {name}: class of {args.students} students ({len(outcome['trainers'])} training), "
          f"{args.workers} training slots + {args.workers} warm extraction processes; wall time {seconds:.1f} s")
    print(f"{'requests':<22}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"   in the service (Server-Timing): p50, p95 ms")
    for category in ("ordinary", "auth", "upload"):
        values, inside = rec.latency.get(category, []), rec.in_service.get(category, [])
        print(f"{category:<22}{len(values):>7}{ms(values, 50):>9.1f}{ms(values, 95):>9.1f}{ms(values, 99):>9.1f}"
              f"{(max(values) * 1000 if values else float('nan')):>9.1f}   {ms(inside, 50):.1f}, {ms(inside, 95):.1f}")
    slowest = sorted(rec.by_route.items(), key=lambda item: -np.percentile(item[1], 95))[:5]
    print("slowest routes by p95 (in the service): " + "; ".join(
        f"{route} {ms(v, 95):.0f} ms ({ms(rec.in_service_by_route[route], 95):.0f} ms, n={len(v)})"
        for route, v in slowest))
    if args.routes:
        for route, values in sorted(rec.by_route.items(), key=lambda item: -np.percentile(item[1], 95)):
            inside = rec.in_service_by_route[route]
            print(f"  {route:<48}{len(values):>6}  p50 {ms(values, 50):6.0f}  p95 {ms(values, 95):6.0f}  "
                  f"max {max(values) * 1000:6.0f} ms   in the service p95 {ms(inside, 95):6.0f} ms")
    by_window: dict[int, list[float]] = defaultdict(list)
    for at, took in rec.ordinary_at:
        by_window[int(at // 10)].append(took)
    print("ordinary requests per 10 s of the lesson (p95): " + ", ".join(
        f"{10 * w}-{10 * w + 10} s {ms(v, 95):.0f} ms (n={len(v)})" for w, v in sorted(by_window.items())))
    # Time lost outside the service (the client's own loop, the accept queue, the event loop before the first
    # middleware): per 10 s of the lesson, to see when it happens and to which route.
    windows: dict[int, list[float]] = defaultdict(list)
    for at, _, lost in rec.outside:
        windows[int(at // 10)].append(lost)
    worst = sorted(windows.items(), key=lambda item: -np.percentile(item[1], 95))[:3]
    routes: dict[str, list[float]] = defaultdict(list)
    for _, route, lost in rec.outside:
        routes[route].append(lost)
    worst_route = max(routes.items(), key=lambda item: np.percentile(item[1], 95), default=None)
    print(f"outside the service: p95 {ms([lost for _, _, lost in rec.outside], 95):.0f} ms; worst 10-s windows of the "
          "lesson (p95): " + ", ".join(f"{10 * w}-{10 * w + 10} s {ms(v, 95):.0f} ms (n={len(v)})" for w, v in worst)
          + (f"; worst route {worst_route[0]} {ms(worst_route[1], 95):.0f} ms" if worst_route else ""))

    shown = rec.roster_waits["upload"] + rec.roster_waits["extraction"]
    print(f"roster ({rec.roster_source}, {rec.roster_updates} updates): a change shown after "
          f"{seconds_summary(shown)}; uploads {seconds_summary(rec.roster_waits['upload'])}; extractions "
          f"{seconds_summary(rec.roster_waits['extraction'])}; not shown within 60 s: {outcome['roster_misses']}")

    by_kind: dict[str, list[dict]] = defaultdict(list)
    for job in jobs:
        by_kind[job["kind"]].append(job)
    extraction_server = [(j["finished_at"] - j["created_at"]).total_seconds()
                         for j in by_kind["extraction"] if j["finished_at"] and j["status"] == "succeeded"]
    print(f"extraction request -> samples: seen by the student {seconds_summary(rec.extraction_seconds)}; "
          f"job created -> finished {seconds_summary(extraction_server)}")
    statuses = defaultdict(int)
    for job in jobs:
        statuses[job["status"]] += 1
    lost = sum(1 for job in jobs if job["status"] != "succeeded")
    print(f"jobs: {len(jobs)} ({dict(statuses)}); not succeeded: {lost}; trainings ended: "
          f"{ {s: outcome['trainings'].count(s) for s in set(outcome['trainings'])} }")
    waits_all = []
    for kind, of_kind in sorted(by_kind.items()):
        waits = [(j["started_at"] - j["created_at"]).total_seconds() for j in of_kind if j["started_at"]]
        waits_all += waits
        totals = [(j["finished_at"] - j["created_at"]).total_seconds() for j in of_kind if j["finished_at"]]
        if waits:
            print(f"  {kind:<11} start wait median {statistics.median(waits):.2f} s, max {max(waits):.2f} s; "
                  f"created -> finished median {statistics.median(totals):.2f} s, max {max(totals):.2f} s "
                  f"(n={len(of_kind)})")

    told_any = False
    for which, estimates in (("first", rec.first_estimate), ("last", rec.last_estimate)):
        errors_start, errors_end = defaultdict(list), defaultdict(list)
        for job in jobs:
            place = estimates.get(job["id"])
            if place is None or not job["started_at"] or not job["finished_at"]:
                continue
            start_error = moment(place["estimated_start"]) - job["started_at"]
            errors_start[job["kind"]].append(abs(start_error.total_seconds()))
            errors_end[job["kind"]].append(abs((moment(place["estimated_end"]) - job["finished_at"]).total_seconds()))
        for kind in sorted(errors_start):
            told_any = True
            start, end = errors_start[kind], errors_end[kind]
            print(f"  queue estimate error, {which} estimate a waiting job was told ({kind}, n={len(start)}): start "
                  f"median {statistics.median(start):.2f} s, max {max(start):.2f} s; end median "
                  f"{statistics.median(end):.2f} s, max {max(end):.2f} s")
    if not told_any:
        print("  queue estimate error: no job had to wait long enough to be told a place")
    print(f"errors: {len(rec.errors)}")
    for error in rec.errors[:10]:
        print(f"  {error}")
    p95 = ms(rec.latency.get("ordinary", []), 95)
    extraction_p95 = float(np.percentile(rec.extraction_seconds, 95)) if rec.extraction_seconds else float("inf")
    roster_max = max(shown) if shown else float("inf")
    targets = [("zero errors", not rec.errors, f"{len(rec.errors)}"), ("zero lost jobs", lost == 0, f"{lost}"),
               ("ordinary p95 < 200 ms", p95 < 200, f"{p95:.0f} ms"),
               ("roster shows a change within 2 s", roster_max <= 2 and not outcome["roster_misses"],
                f"max {roster_max:.2f} s"),
               ("extraction request -> samples p95 <= 10 s", extraction_p95 <= 10, f"{extraction_p95:.2f} s")]
    print("targets: " + "; ".join(f"{what} -> {'met' if ok else 'NOT met'} ({value})" for what, ok, value in targets))
    return {"ok": all(ok for _, ok, _ in targets)}


# --- one run per backend ------------------------------------------------------------------------------------
def run_lesson(backend: str, args, pages: list[bytes], npz: bytes) -> bool:
    data_dir = Path(tempfile.mkdtemp(prefix=f"digitlab-load-{backend}-"))
    logs = data_dir / "logs"
    logs.mkdir()
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGITLAB_")}
    env |= {"DIGITLAB_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO / "backend")}
    admin = database = None
    if backend == "celery":
        import psycopg

        import redis

        # Each run is a new lesson: the rate-limit counts that earlier runs left for this address in the shared
        # Redis (ten classes an hour may join from one address) would refuse it.
        counts = redis.Redis.from_url(REDIS_URL)
        for key in counts.scan_iter("LIMITS:LIMITER/*/127.0.0.1/*"):
            counts.delete(key)
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=5)
        database = f"digitlab_load_{secrets.token_hex(4)}"
        admin.execute(f'CREATE DATABASE "{database}"')
        database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
        env |= {"DIGITLAB_DATABASE_URL": database_url, "DIGITLAB_JOB_BACKEND": "celery",
                "DIGITLAB_CELERY_BROKER_URL": REDIS_URL,
                "DIGITLAB_CELERY_QUEUE": f"digitlab-load-{secrets.token_hex(3)}",
                "DIGITLAB_JOB_CONCURRENCY": "1", "DIGITLAB_EXTRACTION_CONCURRENCY": "1"}
    else:
        database_url = f"sqlite:///{(data_dir / 'digitlab.db').resolve()}"
        env |= {"DIGITLAB_JOB_CONCURRENCY": str(args.workers), "DIGITLAB_EXTRACTION_CONCURRENCY": str(args.workers)}
    env |= dict(setting.split("=", 1) for setting in args.set)
    processes: list[subprocess.Popen] = []

    def start(command: list[str], log: Path) -> subprocess.Popen:
        with open(log, "w") as out:  # the child keeps its own copy of the file
            return subprocess.Popen([sys.executable, "-m", "digitlab.cli", *command], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    try:
        processes.append(start(["serve", "--host", "127.0.0.1", "--port", str(port)], logs / "api.log"))
        base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                print("the service did not start; see", logs / "api.log")
                return False
            time.sleep(0.3)
        if backend == "celery":  # after the api: it migrated the database
            for i in range(args.workers):
                processes.append(start(["worker", "--name", f"load{i}@%h"], logs / f"worker{i}.log"))
            deadline = time.monotonic() + 120
            while sum((logs / f"worker{i}.log").read_text().count(" ready.") for i in range(args.workers)) \
                    < 2 * args.workers:
                if time.monotonic() > deadline:
                    print("the workers did not start; see", logs)
                    return False
                time.sleep(0.3)
        time.sleep(5)  # let the warm processes and the spare training process get ready before the class arrives
        rec = Recorder()
        outcome = {"jobs": [], "trainings": [], "trainers": sorted(range(0, args.students, 3)), "roster_misses": 0}
        print(f"[{backend}] {args.students} students start ...", flush=True)
        started = time.perf_counter()

        async def lesson() -> None:
            token, class_id, code = await teacher_opens_class(base)
            watch, stop = RosterWatch(), asyncio.Event()
            roster_task = asyncio.create_task(keep_roster_open(base, ws_base, token, class_id, watch, rec, stop))
            await asyncio.gather(*(student(n, base, ws_base, code, pages, npz, n in outcome["trainers"], args.epochs,
                                           rec, outcome, watch) for n in range(args.students)))
            stop.set()
            await roster_task

        asyncio.run(lesson())
        seconds = time.perf_counter() - started
        name = "embedded (SQLite, the service's own workers)" if backend == "local" else \
            f"Celery ({args.workers} workers, PostgreSQL + Redis)"
        return report(name, rec, job_rows(database_url, outcome["jobs"]), outcome, seconds, args)["ok"]
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if admin is not None:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--backend", choices=["both", "local", "celery"], default="both")
    parser.add_argument("--routes", action="store_true", help="print the figures of every route")
    parser.add_argument("--set", action="append", default=[], metavar="DIGITLAB_X=VALUE",
                        help="a setting for the service and the workers (e.g. DIGITLAB_EXTRACTION_NICE=5)")
    args = parser.parse_args()
    print("generating pages and data ...", flush=True)
    pages, npz = make_pages(4), make_training_npz()
    backends = ["local", "celery"] if args.backend == "both" else [args.backend]
    results = [run_lesson(backend, args, pages, npz) for backend in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
