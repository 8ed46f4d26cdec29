"""Every list route runs a fixed number of SQL queries however long its list: no query per item (N+1).

Each route is asked for a list of 2 items and then of 6, counting the statements the app's engine executes for
the request (SQLAlchemy's before_cursor_execute); the counts must be equal. Jobs never run here (run_jobs=False),
so the only statements on the engine are the request's. A new list route fails test_every_list_route_is_counted
until a builder for it is added to LISTS.
"""

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import col, select

from digitlab.challenges.tables import Challenge, ChallengeSample, ChallengeSheet
from digitlab.core.db import unit_of_work
from digitlab.jobs import queue
from digitlab.datasets.tables import Cell
from digitlab.jobs.tables import Job
from digitlab.label_checks.service import KEPT_CHECKS
from digitlab.label_checks.tables import LabelCheck, SampleScore
from digitlab.projects.tables import Project
from digitlab.main import create_app
from digitlab.training import service as training_service
from digitlab.training.tables import Training, TrainingEvent
from tests.api import scanpages
from tests.api.class_rows import add_member, make_class, user_id
from tests.api.datafiles import mnist_npz
from tests.api.helpers import new_project, new_user, upload_files
from tests.conftest import PASSWORD, UserHandle, make_settings
from tests.lti.lti_tool import make_admin

SIZES = (2, 6)
TRAINING = {"architecture": "mlp", "epochs": 3}


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    settings = make_settings(tmp_path_factory.mktemp("query-counts") / "data")
    with TestClient(create_app(settings, run_jobs=False)) as test_client:
        yield test_client


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


# --- builders: each grows one list to 2 and then to 6 items, yielding (url, items expected) each time -----------
Builder = Callable[[TestClient, UserHandle], Iterator[tuple[str, int]]]


def _grow(make: Callable[[int], object]) -> Iterator[int]:
    """Calls make(i) for each new item; yields each size of SIZES once it is reached."""
    made = 0
    for size in SIZES:
        while made < size:
            make(made)
            made += 1
        yield size


def projects(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    for size in _grow(lambda i: new_project(client, user, name=f"project {i}")):
        yield "/api/projects", size


def scans(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    project = new_project(client, user)
    for size in _grow(lambda i: upload_files(client, user, project["id"], (f"{i}.png", scanpages.small_png(i)))):
        yield f"/api/projects/{project['id']}/scans", size


def jobs(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    project = new_project(client, user)
    upload_files(client, user, project["id"], ("page.png", scanpages.small_png(1)))

    def extraction(_i: int) -> None:
        response = client.post(f"/api/projects/{project['id']}/extractions", json={}, headers=user.headers)
        assert response.status_code == 202, response.text

    for size in _grow(extraction):
        yield f"/api/projects/{project['id']}/jobs", size


def cells(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    project = new_project(client, user)

    def sample(i: int) -> None:
        _import(client, user, project["id"], mnist_npz([i % 10], seed=i))

    for size in _grow(sample):
        yield f"/api/projects/{project['id']}/dataset/cells?which=all", size


def api_tokens(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    def token(i: int) -> None:
        response = client.post("/api/auth/api-tokens", json={"name": f"token {i}"}, headers=user.headers)
        assert response.status_code == 201, response.text

    for size in _grow(token):
        yield "/api/auth/api-tokens", size


def sessions(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    def login(i: int) -> None:
        if i == 0:
            return  # the user's first login is the first session
        response = client.post("/api/auth/login", json={"username": user.username, "password": PASSWORD})
        assert response.status_code == 200, response.text

    for size in _grow(login):
        yield "/api/auth/sessions", size


def trainings(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """Queued, running, finished and cancelled trainings, with and without epoch messages: every branch of the
    public view."""
    project = _trainable_project(client, user)
    statuses = ["queued", "succeeded", "cancelled", "running", "failed", "succeeded"]

    def training(i: int) -> None:
        training_id = _start_training(client, user, project["id"])
        _set_state(client, training_id, statuses[i], epochs=i % 3)

    for size in _grow(training):
        # The queued training's place comes from a queue snapshot that every request shares for a second
        # (digitlab.jobs.queue): dropped here, so both counted requests take it themselves, once per lane
        # however many trainings are queued, instead of one of them finding it cached depending on timing.
        queue.forget_snapshots()
        yield f"/api/projects/{project['id']}/trainings", size


def history(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """A finished training's stream: the status message, one message per epoch, the end message."""
    project = _trainable_project(client, user)
    training_id = _start_training(client, user, project["id"])
    url = f"/api/projects/{project['id']}/trainings/{training_id}/history"
    for size in _grow(lambda i: None):
        _set_state(client, training_id, "succeeded", epochs=size)
        yield url, size + 2


def confusion(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """The test samples behind one confusion matrix cell (they come from the stored test set)."""
    project = _trainable_project(client, user)
    training_id = _start_training(client, user, project["id"])
    _set_state(client, training_id, "succeeded", epochs=1)
    for size in _grow(lambda i: None):
        _write_test_set(client, training_id, size)
        yield f"/api/projects/{project['id']}/trainings/{training_id}/confusion/0/0", size


def tray_pages(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """A class's unassigned tray: each bulk upload of a page without a sheet code adds one."""
    class_id = make_class(client, f"tray of {user.username}", [user])

    def bulk(i: int) -> None:
        response = client.post(f"/api/classes/{class_id}/bulk-scans", headers=user.headers,
                               files=[("files", (f"{i}.png", scanpages.small_png(100 + i), "image/png"))])
        assert response.status_code == 201, response.text

    for size in _grow(bulk):
        yield f"/api/classes/{class_id}/unassigned-pages", size


def scan_targets(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """The projects of a class's students (one student with one project each)."""
    class_id = make_class(client, f"targets of {user.username}", [user])

    def student(i: int) -> None:
        pupil = new_user(client, f"{user.username}-pupil{i}")
        new_project(client, pupil)
        add_member(client, class_id, pupil)

    for size in _grow(student):
        yield f"/api/classes/{class_id}/bulk-scans/targets", size


def classes(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    for size in _grow(lambda i: make_class(client, f"class {i} of {user.username}", [user])):
        yield "/api/classes", size


def join_codes(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    class_id = make_class(client, f"codes of {user.username}", [user])

    def join_code(_i: int) -> None:
        response = client.post(f"/api/classes/{class_id}/join-codes", json={}, headers=user.headers)
        assert response.status_code == 201, response.text

    for size in _grow(join_code):
        yield f"/api/classes/{class_id}/join-codes", size


def members(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """The teacher and the students (each with a nickname of their own)."""
    class_id = make_class(client, f"members of {user.username}", [user])
    for size in _grow(lambda i: add_member(client, class_id, new_user(client, f"{user.username}-member{i}"))):
        yield f"/api/classes/{class_id}/members", size + 1


def teacher_invites(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """Only this builder invites teachers, so the instance's invitations are the ones made here."""
    make_admin(client.app.state.engine, user_id(client, user))

    def invite(_i: int) -> None:
        response = client.post("/api/admin/teacher-invites", json={}, headers=user.headers)
        assert response.status_code == 201, response.text

    for size in _grow(invite):
        yield "/api/admin/teacher-invites", size


def lti_platforms(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """Only this builder registers platforms."""
    make_admin(client.app.state.engine, user_id(client, user))

    def platform(i: int) -> None:
        response = client.post("/api/lti/platforms", headers=user.headers, json={
            "name": f"platform {i}", "issuer": f"https://lms{i}.example", "client_id": "digitlab",
            "deployment_ids": ["1"], "auth_login_url": f"https://lms{i}.example/auth",
            "auth_token_url": f"https://lms{i}.example/token", "jwks_url": f"https://lms{i}.example/certs"})
        assert response.status_code == 201, response.text

    for size in _grow(platform):
        yield "/api/lti/platforms", size


def lti_keys(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """Only this builder makes keys: each rotation adds one, the first the tool's first key."""
    make_admin(client.app.state.engine, user_id(client, user))

    def rotate(_i: int) -> None:
        response = client.post("/api/lti/keys/rotate", headers=user.headers)
        assert response.status_code == 201, response.text

    for size in _grow(rotate):
        yield "/api/lti/keys", size


def class_samples(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """A class data set built (again) from a student's samples, one more writer's project each time."""
    class_id = make_class(client, f"data set of {user.username}", [user])

    def student_samples(i: int) -> None:
        pupil = new_user(client, f"{user.username}-writer{i}")
        add_member(client, class_id, pupil)
        _import(client, pupil, new_project(client, pupil)["id"], mnist_npz([i % 10], seed=i))

    for size in _grow(student_samples):
        response = client.put(f"/api/classes/{class_id}/dataset", json={}, headers=user.headers)
        assert response.status_code == 200, response.text
        yield f"/api/classes/{class_id}/dataset/samples", size


def challenge_samples(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """A challenge's copied samples, written as setting it would have left them (its sheets' samples come from
    extraction jobs, which never run here)."""
    pupil = new_user(client, f"{user.username}-challenger")
    class_id = make_class(client, f"challenge of {user.username}", [user], [pupil])
    project = new_project(client, pupil)
    scan_id = upload_files(client, pupil, project["id"], ("sheet.png", scanpages.small_png(7)))[0]["id"]
    with unit_of_work(client.app.state.engine) as session:
        challenge = Challenge(class_id=class_id, labels=[str(digit) for digit in range(10)])
        session.add(challenge)
        session.flush()
        challenge_id = challenge.id
        session.add(ChallengeSheet(challenge_id=challenge_id, scan_id=scan_id))

    def sample(i: int) -> None:
        with unit_of_work(client.app.state.engine) as session:
            session.add(ChallengeSample(challenge_id=challenge_id, scan_id=scan_id, label=str(i % 10),
                                        image=bytes(784)))

    for size in _grow(sample):
        yield f"/api/classes/{class_id}/challenge/samples", size


def _label_check(client: TestClient, project_id: int) -> int:
    """A finished label check as its job would have left it (jobs never run here)."""
    with unit_of_work(client.app.state.engine) as session:
        job = Job(project_id=project_id, owner_id=_owner(client, project_id), kind="label_check", params={},
                  status="succeeded")
        session.add(job)
        session.flush()
        check = LabelCheck(project_id=project_id, job_id=job.id, settings={"folds": 4, "epochs": 6})
        session.add(check)
        session.flush()
        assert check.id is not None
        return check.id


def _owner(client: TestClient, project_id: int) -> int:
    with unit_of_work(client.app.state.engine) as session:
        project = session.get(Project, project_id)
        assert project is not None
        return project.owner_id


def label_checks(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """At most label_checks.service.KEPT_CHECKS are listed: the list is grown to that many."""
    project = new_project(client, user)
    made = 0
    for size in (2, KEPT_CHECKS):
        while made < size:
            _label_check(client, project["id"])
            made += 1
        yield f"/api/projects/{project['id']}/label-checks", size


def label_scores(client: TestClient, user: UserHandle) -> Iterator[tuple[str, int]]:
    """A check's scores, one more scored sample each time."""
    project = new_project(client, user)
    _import(client, user, project["id"], mnist_npz([0, 1, 2, 3, 4, 5], seed=3))
    check_id = _label_check(client, project["id"])
    with unit_of_work(client.app.state.engine) as session:
        samples = session.exec(select(Cell).where(Cell.project_id == project["id"]).order_by(col(Cell.id))).all()

    def score(i: int) -> None:
        with unit_of_work(client.app.state.engine) as session:
            session.add(SampleScore(check_id=check_id, cell_id=samples[i].id, label=samples[i].label,
                                    quality=0.1 * i, suggested=samples[i].label))

    for size in _grow(score):
        yield f"/api/projects/{project['id']}/label-checks/{check_id}/scores", size


LISTS: dict[str, Builder] = {
    "/api/projects/{project_id}/label-checks": label_checks,
    "/api/projects/{project_id}/label-checks/{check_id}/scores": label_scores,
    "/api/projects": projects,
    "/api/projects/{project_id}/scans": scans,
    "/api/projects/{project_id}/jobs": jobs,
    "/api/projects/{project_id}/dataset/cells": cells,
    "/api/auth/api-tokens": api_tokens,
    "/api/auth/sessions": sessions,
    "/api/projects/{project_id}/trainings": trainings,
    "/api/projects/{project_id}/trainings/{training_id}/history": history,
    "/api/projects/{project_id}/trainings/{training_id}/confusion/{true_index}/{predicted_index}": confusion,
    "/api/classes/{class_id}/unassigned-pages": tray_pages,
    "/api/classes/{class_id}/bulk-scans/targets": scan_targets,
    "/api/classes": classes,
    "/api/classes/{class_id}/join-codes": join_codes,
    "/api/classes/{class_id}/members": members,
    "/api/admin/teacher-invites": teacher_invites,
    "/api/lti/platforms": lti_platforms,
    "/api/lti/keys": lti_keys,
    "/api/classes/{class_id}/dataset/samples": class_samples,
    "/api/classes/{class_id}/challenge/samples": challenge_samples,
}


def list_routes(app) -> set[str]:
    """The GET routes whose answer is a list, or a page holding one (`items`), from the published API."""
    spec = app.openapi()

    def resolve(schema: dict) -> dict:
        while "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        return schema

    found = set()
    for path, item in spec["paths"].items():
        content = item.get("get", {}).get("responses", {}).get("200", {}).get("content", {})
        schema = resolve(content.get("application/json", {}).get("schema", {}))
        page_items = resolve(schema.get("properties", {}).get("items", {}))
        if schema.get("type") == "array" or page_items.get("type") == "array":
            found.add(path)
    return found


def test_every_list_route_is_counted(client):
    assert list_routes(client.app) == set(LISTS)


@pytest.mark.parametrize("route", sorted(LISTS))
def test_list_route_runs_a_fixed_number_of_queries(client, route):
    user = new_user(client, f"counter{sorted(LISTS).index(route)}")
    client.get("/api/auth/me", headers=user.headers)  # the token's first use records it (one UPDATE); not counted
    counts = []
    for url, expected in LISTS[route](client, user):
        with statements(client.app.state.engine) as seen:
            response = client.get(url, headers=user.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"] if isinstance(body, dict) else body) == expected
        counts.append(len(seen))
    assert counts[0] == counts[1], f"{route}: {counts[0]} queries for {SIZES[0]} items, {counts[1]} for {SIZES[1]}"


# --- helpers ---------------------------------------------------------------------------------------------------
def _import(client: TestClient, user: UserHandle, project_id: int, data: bytes) -> None:
    response = client.post(f"/api/projects/{project_id}/dataset/import", headers=user.headers,
                           files={"file": ("samples.npz", data, "application/octet-stream")})
    assert response.status_code == 201, response.text


def _trainable_project(client: TestClient, user: UserHandle) -> dict:
    project = new_project(client, user)
    _import(client, user, project["id"], mnist_npz([0, 0, 0, 1, 1, 1]))
    return project


def _start_training(client: TestClient, user: UserHandle, project_id: int) -> int:
    response = client.post(f"/api/projects/{project_id}/trainings", json=TRAINING, headers=user.headers)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _set_state(client: TestClient, training_id: int, status: str, epochs: int) -> None:
    """What a worker would have left behind: the job's status and `epochs` epoch messages."""
    with unit_of_work(client.app.state.engine) as session:
        training = session.get(Training, training_id)
        job = session.get(Job, training.job_id)
        job.status = status
        if status == "succeeded":
            training.epochs_run, training.stopped = epochs, "completed"
        stored = len(training_service.events(session, training))
        session.add_all([TrainingEvent(training_id=training_id, seq=seq, type="epoch",
                                       data={"epoch": seq + 1, "loss": 0.5, "accuracy": 0.5, "val_loss": 0.5,
                                             "val_accuracy": 0.5, "seconds": 1.0})
                         for seq in range(stored, epochs)])


def _write_test_set(client: TestClient, training_id: int, size: int) -> None:
    """A stored test set of `size` samples, all label 0 and predicted 0."""
    with unit_of_work(client.app.state.engine) as session:
        training = session.get(Training, training_id)
        labels = len(training.labels)
    probabilities = np.zeros((size, labels), np.float32)
    probabilities[:, 0] = 1.0
    buffer = io.BytesIO()
    np.savez(buffer, x_test=np.zeros((size, 28, 28), np.uint8), y_test=np.zeros(size, np.int64),
             cell_ids=np.arange(size), probabilities=probabilities, predicted=np.zeros(size, np.int64))
    client.app.state.storage.write(training_service.model_key(training, "test_set.npz"), buffer.getvalue())
