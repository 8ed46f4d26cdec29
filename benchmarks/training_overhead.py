"""What the service adds to a training: a plain Keras script against the same fit submitted through the service.

    .venv/bin/python benchmarks/training_overhead.py [--epochs 30] [--samples 4000] [--prewarm both|on|off]

1. Plain Keras: a fresh `python` process runs a small script that imports Keras, builds the MLP preset
   (784-100-100-10, 89,610 parameters) from plain Keras layers, and fits it on the same data with the same
   split, seed, epochs, batch size 32 and validation data. Timed: the whole subprocess, start to exit.
2. The service: `digitlab serve` in a subprocess on a free port with its data in a temporary folder; a user,
   a project, the same samples imported as an mnist.npz; then POST the training and watch its WebSocket.
   Timed: from the POST to the stream's `end` message (which comes after the test evaluation, the ONNX export
   and saving the files: work the plain script does not do). Run once with the spare worker process
   (DIGITLAB_JOB_PREWARM=true, the default: TensorFlow is already imported when the job arrives) and once
   without (a fresh process imports TensorFlow for the job, like the plain script does).

The target (architecture guide): the service within 1.15x of the plain script's wall time. The runs happen one
after another, never at once; other load on the machine slows every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark password"

PLAIN_SCRIPT = textwrap.dedent("""
    import json, sys, time
    started = time.perf_counter()
    import numpy as np
    import keras
    from digitlab.ml.data import split_dataset  # numpy only: the same 80/10/10 split as the service

    imported = time.perf_counter()
    path, epochs = sys.argv[1], int(sys.argv[2])
    with np.load(path) as data:
        x, y = data["x_train"], data["y_train"].astype(np.int64)
    splits = split_dataset(x, y, n_labels=10, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(100, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    assert model.count_params() == 89_610
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    fit_started = time.perf_counter()
    history = model.fit(splits.x_train, splits.y_train, validation_data=(splits.x_val, splits.y_val),
                        epochs=epochs, batch_size=32, verbose=0)
    done = time.perf_counter()
    print(json.dumps({"import": imported - started, "fit": done - fit_started,
                      "val_accuracy": history.history["val_accuracy"][-1]}))
""")


# ------------------------------------------------------------------------------------------ plain Keras

def run_plain(npz: Path, epochs: int, workdir: Path) -> dict:
    script = workdir / "plain_keras.py"
    script.write_text(PLAIN_SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    started = time.perf_counter()
    result = subprocess.run([sys.executable, str(script), str(npz), str(epochs)], capture_output=True, text=True,
                            env=env, cwd=workdir, timeout=1800)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"the plain Keras script failed:\n{result.stderr[-3000:]}")
    return {"wall": wall, **json.loads(result.stdout.strip().splitlines()[-1])}


# ------------------------------------------------------------------------------------------ the service

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`digitlab serve` in a subprocess; stopped with SIGINT (uvicorn's graceful shutdown stops the job runner)."""

    def __init__(self, data_dir: Path, prewarm: bool, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, DIGITLAB_DATA_DIR=str(data_dir), DIGITLAB_JOB_PREWARM=str(prewarm).lower(),
                   TF_CPP_MIN_LOG_LEVEL="2")
        command = [sys.executable, "-m", "digitlab.cli", "serve", "--port", str(self.port)]
        self.log = log.open("w")
        self.process = subprocess.Popen(command, env=env, cwd=data_dir.parent, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        self.started = time.perf_counter()
        self.client = httpx.Client(base_url=self.base, timeout=60)

    def wait_until_up(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"digitlab serve exited with {self.process.returncode}; see {self.log.name}")
            try:
                if self.client.get("/api/health").status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"digitlab serve did not answer within {timeout} s")

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def check(response: httpx.Response, status: int) -> dict:
    if response.status_code != status:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return response.json()


def run_service(npz: Path, epochs: int, workdir: Path, prewarm: bool, settle: float) -> dict:
    from websockets.sync.client import connect

    data_dir = workdir / f"service-{'prewarm' if prewarm else 'cold'}" / "data"
    data_dir.mkdir(parents=True)
    service = Service(data_dir, prewarm, workdir / f"serve-{'prewarm' if prewarm else 'cold'}.log")
    try:
        up = service.wait_until_up()
        api = service.client
        check(api.post("/api/auth/register", json={"username": "bench", "password": PASSWORD}), 201)
        token = check(api.post("/api/auth/login", json={"username": "bench", "password": PASSWORD}), 200)["access_token"]
        api.headers["Authorization"] = f"Bearer {token}"
        project = check(api.post("/api/projects", json={"name": "benchmark"}), 201)
        with npz.open("rb") as file:
            check(api.post(f"/api/projects/{project['id']}/dataset/import",
                           files={"file": ("mnist.npz", file, "application/octet-stream")}), 201)
        if prewarm:
            # Steady state: the spare worker (spawned when the service started) has had time to import TensorFlow.
            time.sleep(max(0.0, settle - (time.perf_counter() - service.started)))

        body = {"architecture": "mlp", "epochs": epochs, "batch_size": 32, "seed": 0}
        t0 = time.perf_counter()
        training = check(api.post(f"/api/projects/{project['id']}/trainings", json=body), 202)
        posted = time.perf_counter() - t0
        url = f"ws://127.0.0.1:{service.port}{training['websocket_url']}"
        arrivals: list[tuple[float, dict]] = []
        with connect(url, open_timeout=30, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            while True:
                message = json.loads(ws.recv(timeout=600))
                arrivals.append((time.perf_counter() - t0, message))
                if message["type"] == "end":
                    break
    finally:
        service.stop()

    end_at, end = arrivals[-1]
    if end["status"] != "succeeded":
        raise SystemExit(f"the training did not succeed: {end}")
    started_at = next(t for t, m in arrivals if m["type"] == "started")
    epochs_seen = [(t, m) for t, m in arrivals if m["type"] == "epoch"]
    return {
        "wall": end_at, "up": up, "post": posted, "started": started_at,
        "first_epoch": epochs_seen[0][0], "last_epoch": epochs_seen[-1][0],
        "after_last_epoch": end_at - epochs_seen[-1][0],
        "fit_seconds": sum(m["seconds"] for _, m in epochs_seen),  # the worker's own per-epoch times
        "epochs": len(epochs_seen), "val_accuracy": epochs_seen[-1][1]["val_accuracy"],
        "test_accuracy": end["test"]["accuracy"],
    }


# ------------------------------------------------------------------------------------------ main

def make_dataset(samples: int, path: Path) -> None:
    from digitlab.ml.synthetic import make_digits

    x, y = make_digits(samples // 10, seed=0)
    np.savez(path, x_train=x, y_train=y.astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--prewarm", choices=["both", "on", "off"], default="both",
                        help="run the service with the spare pre-imported worker, without it, or both")
    parser.add_argument("--settle", type=float, default=12.0,
                        help="with the spare worker: seconds after the service starts before the training is "
                             "posted, so the spare has finished importing TensorFlow")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each measurement; medians are shown")
    args = parser.parse_args()

    modes = {"both": [True, False], "on": [True], "off": [False]}[args.prewarm]
    with tempfile.TemporaryDirectory(prefix="digitlab-bench-") as tmp:
        workdir = Path(tmp)
        npz = workdir / "mnist.npz"
        make_dataset(args.samples, npz)
        print(f"MLP preset, {args.samples} synthetic samples (80/10/10 split), {args.epochs} epochs, batch 32; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)

        plain_runs = []
        service_runs: dict[bool, list[dict]] = {mode: [] for mode in modes}
        for _ in range(args.repeat):  # interleaved, so a change in background load hits every variant alike
            plain_runs.append(run_plain(npz, args.epochs, workdir))
            print(f"  plain Keras script: {plain_runs[-1]['wall']:.2f} s", flush=True)
            for mode in modes:
                service_runs[mode].append(run_service(npz, args.epochs, workdir / f"run{len(plain_runs)}",
                                                      mode, args.settle))
                print(f"  service ({'spare worker' if mode else 'fresh worker'}): "
                      f"{service_runs[mode][-1]['wall']:.2f} s", flush=True)

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    plain = median(plain_runs, "wall")
    print()
    print(f"plain Keras script (subprocess wall time)      {plain:7.2f} s   "
          f"(TF/Keras import {median(plain_runs, 'import'):.2f} s, fit {median(plain_runs, 'fit'):.2f} s, "
          f"final val_accuracy {plain_runs[-1]['val_accuracy']:.3f})")
    for mode, runs in service_runs.items():
        wall = median(runs, "wall")
        name = "with spare worker" if mode else "fresh worker    "
        print(f"service, {name} (POST -> end message) {wall:7.2f} s   ratio {wall / plain:.3f}  "
              f"(target <= 1.15)")
        print(f"    POST answered {median(runs, 'post'):6.2f} s | 'started' at {median(runs, 'started'):6.2f} s"
              f" | epoch 1 at {median(runs, 'first_epoch'):6.2f} s | epoch {runs[-1]['epochs']} at "
              f"{median(runs, 'last_epoch'):6.2f} s | end {median(runs, 'after_last_epoch'):5.2f} s after the last "
              f"epoch")
        print(f"    fit time reported by the worker's epochs {median(runs, 'fit_seconds'):.2f} s; "
              f"final val_accuracy {runs[-1]['val_accuracy']:.3f}, test_accuracy {runs[-1]['test_accuracy']:.3f}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
