"""`digitlab extract PAGE... --out DIR`: the pipeline without a server, as a student runs it in a terminal."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import jsonschema
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from digitlab.core.config import Settings
from digitlab.core.db import make_engine, migration_state
from digitlab.main import create_app
from digitlab.pipeline.template import COLUMNS, ROWS
from tests.api import scanpages
from tests.conftest import create_postgres_database, drop_postgres_database

REPO = Path(__file__).resolve().parents[1]

POINT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
CELL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["row", "col", "label", "kept", "reason", "image"],
    "properties": {
        "row": {"type": "integer", "minimum": 0, "maximum": ROWS - 1},
        "col": {"type": "integer", "minimum": 0, "maximum": COLUMNS - 1},
        "label": {"type": "string"},
        "kept": {"type": "boolean"},
        "reason": {"type": ["string", "null"]},
        "image": {"type": ["string", "null"]},
    },
}
PAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["file", "status", "error", "corners", "cells"],
    "properties": {
        "file": {"type": "string"},
        "status": {"enum": ["ok", "failed"]},
        "error": {"type": ["string", "null"]},
        "corners": {"oneOf": [{"type": "array", "items": POINT, "minItems": 4, "maxItems": 4}, {"type": "null"}]},
        "cells": {"type": "array", "items": CELL},
    },
}
MANIFEST = {"type": "object", "additionalProperties": False, "required": ["pages"],
            "properties": {"pages": {"type": "array", "items": PAGE}}}


def run_extract(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "digitlab.cli", "extract", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture
def pages(tmp_path) -> dict:
    written = scanpages.default_cells(seed=70)
    (tmp_path / "scans").mkdir()
    cv2.imwrite(str(tmp_path / "scans" / "sheet 1.png"), scanpages.grid_page(written, seed=70))
    cv2.imwrite(str(tmp_path / "holiday.jpg"), scanpages.noise_page(seed=71))
    return {"written": written}


def check_ok_page(page: dict, out: Path, labels: list[str], written: set) -> None:
    assert page["status"] == "ok" and page["error"] is None
    # Corners in order top-left, top-right, bottom-right, bottom-left.
    (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = page["corners"]
    assert tlx < trx and blx < brx and tly < bly and try_ < bry
    assert abs(tly - try_) < 20 and abs(tlx - blx) < 20
    assert sorted((c["row"], c["col"]) for c in page["cells"]) == [(r, c) for r in range(ROWS) for c in range(COLUMNS)]
    kept = set()
    for cell in page["cells"]:
        assert cell["label"] == labels[cell["row"] // 3]
        if cell["kept"]:
            kept.add((cell["row"], cell["col"]))
            assert cell["image"] is not None and not Path(cell["image"]).is_absolute()
            image = cv2.imread(str(out / cell["image"]), cv2.IMREAD_UNCHANGED)
            assert image is not None, cell["image"]
            assert image.shape == (28, 28)
            assert (out / cell["image"]).read_bytes().startswith(b"\x89PNG")
        else:
            assert cell["image"] is None and cell["reason"]
    assert kept <= written and len(kept) >= 0.9 * len(written)


def test_extract_writes_manifest_and_samples(tmp_path, pages):
    result = run_extract(tmp_path, "scans/sheet 1.png", "holiday.jpg", "--out", "out")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    jsonschema.validate(manifest, MANIFEST)
    sheet, holiday = manifest["pages"]
    assert sheet["file"] == "scans/sheet 1.png" and holiday["file"] == "holiday.jpg"
    check_ok_page(sheet, out, [str(d) for d in range(10)], pages["written"])
    assert holiday["status"] == "failed"
    assert isinstance(holiday["error"], str) and holiday["error"]
    assert holiday["corners"] is None and holiday["cells"] == []
    # Every PNG on disk is one the manifest names.
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert on_disk == {c["image"] for c in sheet["cells"] if c["kept"]}


def test_extract_with_own_labels(tmp_path, pages):
    labels = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]
    result = run_extract(tmp_path, "scans/sheet 1.png", "--out", str(tmp_path / "o"), "--labels", ",".join(labels))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    jsonschema.validate(manifest, MANIFEST)
    check_ok_page(manifest["pages"][0], tmp_path / "o", labels, pages["written"])


def test_extract_when_no_page_has_a_grid(tmp_path, pages):
    result = run_extract(tmp_path, "holiday.jpg", "missing.png", "--out", "out")
    assert result.returncode != 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    jsonschema.validate(manifest, MANIFEST)
    assert [p["file"] for p in manifest["pages"]] == ["holiday.jpg", "missing.png"]
    for page in manifest["pages"]:
        assert page["status"] == "failed" and page["error"] and page["cells"] == []


def test_extract_refuses_a_wrong_label_count(tmp_path, pages):
    result = run_extract(tmp_path, "holiday.jpg", "--out", "out", "--labels", "a,b,c")
    assert result.returncode == 2
    assert "10 labels" in result.stderr
    assert not (tmp_path / "out").exists()


def test_console_script_is_installed():
    script = REPO / ".venv" / "bin" / "digitlab"
    if not script.exists():
        pytest.skip("no .venv/bin/digitlab (not installed with pip install -e .)")
    result = subprocess.run([str(script), "extract", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "--out" in result.stdout


# `digitlab migrate`: the scaled-out deployment's migration step (docker-compose.yml runs it once before the api).


def run_migrate(cwd: Path, **settings: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGITLAB_")}
    env |= {f"DIGITLAB_{key.upper()}": value for key, value in settings.items()}
    command = [sys.executable, "-m", "digitlab.cli", "migrate"]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_migrate_brings_a_new_database_up_to_date_and_is_repeatable(tmp_path):
    data = tmp_path / "data"
    first = run_migrate(tmp_path, data_dir=str(data))
    assert first.returncode == 0, first.stderr
    assert "upgraded from an empty database" in first.stdout
    engine = make_engine(Settings(data_dir=data).resolved_database_url)
    try:
        current, heads = migration_state(engine)
        assert current == heads and heads
        assert {"users", "projects", "jobs"} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    again = run_migrate(tmp_path, data_dir=str(data))
    assert again.returncode == 0, again.stderr
    assert "already up to date" in again.stdout


@pytest.mark.postgres
def test_migrate_on_postgresql(tmp_path):
    name, url = create_postgres_database("digitlab_migrate")
    try:
        result = run_migrate(tmp_path, data_dir=str(tmp_path / "data"), database_url=url)
        assert result.returncode == 0, result.stderr
        assert "upgraded from an empty database" in result.stdout
    finally:
        drop_postgres_database(name)


def test_migrate_says_why_when_the_database_cannot_be_reached(tmp_path):
    url = "postgresql+psycopg://digitlab:s3cret-pw@127.0.0.1:9/digitlab"  # port 9 (discard): nothing listens
    result = run_migrate(tmp_path, data_dir=str(tmp_path / "data"), database_url=url)
    assert result.returncode == 1
    assert result.stderr.startswith("digitlab migrate: postgresql+psycopg://digitlab:***@127.0.0.1:9/digitlab")
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_service_that_does_not_migrate_refuses_an_old_database_until_migrate_ran(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", migrate_on_start=False, job_prewarm=False)
    with pytest.raises(RuntimeError, match="digitlab migrate"), TestClient(create_app(settings, run_jobs=False)):
        pass
    assert run_migrate(tmp_path, data_dir=str(settings.data_dir)).returncode == 0
    with TestClient(create_app(settings, run_jobs=False)) as client:
        assert client.get("/api/health").json()["status"] == "ok"


def test_serve_still_migrates_the_embedded_default_by_itself(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", job_prewarm=False)
    assert settings.migrate_on_start
    with TestClient(create_app(settings, run_jobs=False)) as client:
        response = client.post("/api/auth/register", json={"username": "ada", "password": "long enough pw"})
        assert response.status_code == 201


# `digitlab admin ...`: the first admin and teacher invitations, from the server's shell.


def run_admin(cwd: Path, data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGITLAB_")}
    env["DIGITLAB_DATA_DIR"] = str(data_dir)
    command = [sys.executable, "-m", "digitlab.cli", "admin", *args]
    # A new session has no terminal: getpass then reads what is typed from stdin, as the test types it there.
    return subprocess.run(command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=120,
                          start_new_session=True)


def test_admin_create_with_the_password_on_stdin_makes_an_admin_who_logs_in(tmp_path):
    data = tmp_path / "data"
    result = run_admin(tmp_path, data, "create", "--username", "Root", "--password-stdin", stdin="long enough pw\n")
    assert result.returncode == 0, result.stderr
    assert "'Root'" in result.stdout and "long enough pw" not in result.stdout + result.stderr
    with TestClient(create_app(Settings(data_dir=data, job_prewarm=False), run_jobs=False)) as client:
        login = client.post("/api/auth/login", json={"username": "root", "password": "long enough pw"})
        assert login.status_code == 200
        me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}).json()
        assert me["role"] == "admin" and me["username"] == "Root"
        # The instance is no longer empty: the next registration is a student's.
        registered = client.post("/api/auth/register", json={"username": "mia", "password": "long enough pw"})
        assert registered.json()["role"] == "student"


def test_admin_create_asks_for_the_password_twice(tmp_path):
    data = tmp_path / "data"
    differ = run_admin(tmp_path, data, "create", "--username", "root", stdin="long enough pw\nlong enough pq\n")
    assert differ.returncode == 2 and "differ" in differ.stderr
    same = run_admin(tmp_path, data, "create", "--username", "root", stdin="long enough pw\nlong enough pw\n")
    assert same.returncode == 0, same.stderr


def test_admin_create_refuses_weak_passwords_bad_and_taken_names(tmp_path):
    data = tmp_path / "data"
    weak = run_admin(tmp_path, data, "create", "--username", "root", "--password-stdin", stdin="12345678\n")
    assert weak.returncode == 2 and "easy to guess" in weak.stderr and "Traceback" not in weak.stderr
    bad = run_admin(tmp_path, data, "create", "--username", "no spaces", "--password-stdin", stdin="long enough pw\n")
    assert bad.returncode == 2 and "username" in bad.stderr
    assert run_admin(tmp_path, data, "create", "--username", "root", "--password-stdin",
                     stdin="long enough pw\n").returncode == 0
    taken = run_admin(tmp_path, data, "create", "--username", "ROOT", "--password-stdin", stdin="another long pw\n")
    assert taken.returncode == 2 and "already taken" in taken.stderr


def test_admin_invite_teacher_prints_a_code_that_makes_a_teacher(tmp_path):
    data = tmp_path / "data"
    result = run_admin(tmp_path, data, "invite-teacher", "--days", "2", "--app-url", "https://lab.school.example/")
    assert result.returncode == 0, result.stderr
    invite = json.loads(result.stdout)
    assert invite["link"] == f"https://lab.school.example/#/teacher-invite/{invite['code']}"
    assert run_admin(tmp_path, data, "invite-teacher", "--days", "0").returncode == 2
    with TestClient(create_app(Settings(data_dir=data, job_prewarm=False), run_jobs=False)) as client:
        first = client.post("/api/auth/register", json={"username": "root", "password": "long enough pw"})
        assert first.json()["role"] == "admin"  # the instance had no account yet
        teacher = client.post("/api/auth/register", json={"username": "mrs.k", "password": "long enough pw",
                                                          "invite_code": invite["code"]})
        assert teacher.status_code == 201 and teacher.json()["role"] == "teacher"
