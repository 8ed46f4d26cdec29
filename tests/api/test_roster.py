"""The teacher's roster of a class: the figures per student, where each one is stuck, a fixed number of queries
however large the class, and the live roster over a WebSocket (a change shows without reloading, from any API
process, and only to the class's teachers).

Jobs are not run by the service here (run_jobs=False): extractions run in the test's process through the worker's
own code (digitlab.jobs.worker.run_job), and trainings end with the report a worker would send, so every state
is reached exactly when the test wants it.
"""

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from digitlab.core.clock import utcnow
from digitlab.core.db import unit_of_work
from digitlab.jobs import states
from digitlab.jobs.tables import JobStatus
from digitlab.jobs.worker import run_job
from digitlab.main import create_app
from digitlab.roster import service as roster_service
from digitlab.training.tables import Training
from tests.api import scanpages
from tests.api.class_rows import add_member, make_class, remove_member
from tests.api.datafiles import mnist_npz
from tests.api.helpers import new_project, new_user, start_extraction, upload_files
from tests.api.test_query_counts import statements
from tests.api.trainings import receive_json
from tests.conftest import UserHandle, make_settings, wait_until

BEARER = "digitlab.bearer"
TRAINING = {"architecture": "mlp", "epochs": 1}
LIVE_LIMIT = 10.0  # seconds; the roster looks for changes every second, so a change normally shows within ~1 s


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    # job_nice=0: extractions run in this very process (run_job would lower its priority for good)
    settings = make_settings(tmp_path_factory.mktemp("roster") / "data", job_nice=0)
    with TestClient(create_app(settings, run_jobs=False)) as test_client:
        yield test_client


# --- what students do, with the outcome a worker would report ---------------------------------------------------
def extract(client, user: UserHandle, project_id: int) -> dict:
    """An extraction of all the project's scans, run to its end by the worker's code in this process."""
    job = start_extraction(client, user, project_id)
    assert states.claim_job(client.app.state.engine, job["id"], "test:0")
    run_job(job["id"], client.app.state.settings)
    return client.get(f"/api/jobs/{job['id']}", headers=user.headers).json()


def import_samples(client, user: UserHandle, project_id: int, labels: list[int], seed: int = 0) -> None:
    response = client.post(f"/api/projects/{project_id}/dataset/import", headers=user.headers,
                           files={"file": ("m.npz", mnist_npz(labels, seed=seed), "application/octet-stream")})
    assert response.status_code == 201, response.text


def start_training(client, user: UserHandle, project_id: int) -> dict:
    response = client.post(f"/api/projects/{project_id}/trainings", json=TRAINING, headers=user.headers)
    assert response.status_code == 202, response.text
    return response.json()


def end_training(
    client, training: dict, *, accuracy: float | None = None, error: states.Reason | None = None
) -> None:
    """What the training's worker reports at the end: its figures and success, or its failure."""
    engine = client.app.state.engine
    assert states.claim_job(engine, training["job_id"], "test:0")
    if error is not None:
        assert states.mark_ended(engine, training["job_id"], JobStatus.FAILED, error)
        return
    with unit_of_work(engine) as session:
        row = session.get(Training, training["id"])
        row.test_accuracy, row.test_loss, row.epochs_run, row.finished_at = accuracy, 0.5, 1, utcnow()
    assert states.mark_ended(engine, training["job_id"], JobStatus.SUCCEEDED, progress=1.0)


def roster(client, teacher: UserHandle, class_id: int) -> dict:
    response = client.get(f"/api/classes/{class_id}/roster", headers=teacher.headers)
    assert response.status_code == 200, response.text
    return response.json()


def by_nickname(roster_body: dict) -> dict[str, dict]:
    return {student["nickname"]: student for student in roster_body["students"]}


def moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def stuck_code(student: dict) -> str | None:
    return student["stuck"]["code"] if student["stuck"] else None


# --- the figures ---------------------------------------------------------------------------------------------------
def test_the_roster_shows_each_students_progress_and_where_they_are_stuck(client):
    tess = new_user(client, "tess")
    nia, noah, fay, gus, una, ivy, max_ = (new_user(client, name) for name in
                                           ("nia", "noah", "fay", "gus", "una", "ivy", "max"))
    class_id = make_class(client, "7b", [tess], [nia, noah, fay, gus, una, ivy, max_])
    outsider = new_user(client, "olga")  # a student of another class: never on this roster
    make_class(client, "7c", [new_user(client, "otto")], [outsider])
    new_project(client, outsider, "olga's")

    noahs = new_project(client, noah, "noah's digits")
    fays = new_project(client, fay, "fay's digits")
    upload_files(client, fay, fays["id"], ("blank.png", scanpages.png(scanpages.noise_page(seed=3))))
    assert extract(client, fay, fays["id"])["status"] == "failed"  # no page could be read
    guss = new_project(client, gus, "gus's digits")
    upload_files(client, gus, guss["id"], ("sheet.png", scanpages.png(scanpages.grid_page(seed=5))))
    gus_job = extract(client, gus, guss["id"])
    assert gus_job["status"] == "succeeded", gus_job
    unas = new_project(client, una, "una's digits")
    upload_files(client, una, unas["id"], ("a.png", scanpages.small_png(1)), ("b.png", scanpages.small_png(2)))
    ivys = new_project(client, ivy, "ivy's digits")
    import_samples(client, ivy, ivys["id"], [0, 1, 2] * 10)
    end_training(client, start_training(client, ivy, ivys["id"]), error=states.LOST_REASON)
    # max: a page that failed, then trainings that succeeded after it, one more waiting, one sample excluded
    maxs = new_project(client, max_, "max's digits")
    new_project(client, max_, "max's symbols", labels=list("ABCDEFGHIJ"))
    upload_files(client, max_, maxs["id"], ("blank.png", scanpages.png(scanpages.noise_page(seed=4))))
    extract(client, max_, maxs["id"])
    import_samples(client, max_, maxs["id"], [3, 4, 5] * 10, seed=1)
    end_training(client, start_training(client, max_, maxs["id"]), accuracy=0.9)
    end_training(client, start_training(client, max_, maxs["id"]), accuracy=0.75)
    start_training(client, max_, maxs["id"])  # queued
    cell = client.get(f"/api/projects/{maxs['id']}/dataset/cells", params={"limit": 1}, headers=max_.headers)
    response = client.patch(f"/api/projects/{maxs['id']}/dataset/cells/{cell.json()['items'][0]['id']}",
                            json={"included": False}, headers=max_.headers)
    assert response.status_code == 200, response.text

    body = roster(client, tess, class_id)
    assert body["class_id"] == class_id and body["class_name"] == "7b"
    assert [s["nickname"] for s in body["students"]] == ["nia", "noah", "fay", "gus", "una", "ivy", "max"]
    assert [s["writer_number"] for s in body["students"]] == [1, 2, 3, 4, 5, 6, 7]
    students = by_nickname(body)

    def figures(name: str) -> tuple:
        s = students[name]
        return s["pages_uploaded"], s["samples_kept"], s["trainings"], s["best_test_accuracy"], s["working"]

    def kept(user: UserHandle, project: dict) -> int:
        return client.get(f"/api/projects/{project['id']}/dataset", headers=user.headers).json()["total"]

    assert figures("nia") == (0, 0, 0, None, False)
    assert stuck_code(students["nia"]) == "no_project" and students["nia"]["last_activity"] is None
    assert students["nia"]["projects"] == []

    assert figures("noah") == (0, 0, 0, None, False) and stuck_code(students["noah"]) == "no_scans"
    assert students["noah"]["projects"] == [{"id": noahs["id"], "name": "noah's digits"}]
    assert moment(students["noah"]["last_activity"]) == moment(noahs["updated_at"])  # made, never changed

    assert figures("fay") == (1, 0, 0, None, False) and stuck_code(students["fay"]) == "failed_page"
    assert "1 page could not be read" in students["fay"]["stuck"]["sentence"]

    assert kept(gus, guss) > 100
    assert figures("gus") == (1, kept(gus, guss), 0, None, False) and stuck_code(students["gus"]) == "no_training"
    assert moment(students["gus"]["last_activity"]) == moment(gus_job["finished_at"])  # the latest thing gus did

    assert figures("una") == (2, 0, 0, None, False) and stuck_code(students["una"]) == "not_extracted"

    assert figures("ivy") == (0, 30, 1, None, False) and stuck_code(students["ivy"]) == "failed_training"
    assert states.LOST_REASON.sentence in students["ivy"]["stuck"]["sentence"]
    ivys_reason = students["ivy"]["stuck"]
    assert (ivys_reason["error_code"], ivys_reason["error_params"]) == ("job_worker_lost", None)

    assert figures("max") == (1, 29, 3, 0.9, True) and students["max"]["stuck"] is None
    assert [p["name"] for p in students["max"]["projects"]] == ["max's digits", "max's symbols"]
    assert "olga" not in students and "tess" not in students


def test_only_the_classes_teachers_see_its_roster(client):
    teacher, co_teacher, other_teacher = (new_user(client, n) for n in ("rita", "ron", "rex"))
    student, other_student = new_user(client, "rosa"), new_user(client, "ruth")
    class_id = make_class(client, "8a", [teacher, co_teacher], [student])
    make_class(client, "8b", [other_teacher], [other_student])
    assert [s["nickname"] for s in roster(client, co_teacher, class_id)["students"]] == ["rosa"]
    for outsider in (student, other_teacher, other_student):
        response = client.get(f"/api/classes/{class_id}/roster", headers=outsider.headers)
        missing = client.get("/api/classes/999999/roster", headers=teacher.headers)
        assert response.status_code == missing.status_code == 404
        assert response.json() == missing.json()  # nobody learns that the class exists
    remove_member(client, class_id, student)
    assert roster(client, teacher, class_id)["students"] == []  # a removed student is gone at once


# --- a fixed number of queries ----------------------------------------------------------------------------------
def _busy_student(client, class_id: int, name: str) -> None:
    """A student with something in every table the roster reads: pages, samples, jobs, trainings."""
    student = new_user(client, name)
    add_member(client, class_id, student)
    project = new_project(client, student, f"{name}'s")
    upload_files(client, student, project["id"], (f"{name}.png", scanpages.small_png(len(name) + 7)))
    import_samples(client, student, project["id"], [0, 1, 2] * 10, seed=len(name))
    end_training(client, start_training(client, student, project["id"]), accuracy=0.5)
    end_training(client, start_training(client, student, project["id"]), error=states.INTERNAL_REASON)
    start_training(client, student, project["id"])


def test_the_roster_runs_a_fixed_number_of_queries_however_many_students(client):
    teacher = new_user(client, "quinn")
    class_id = make_class(client, "9a", [teacher])
    client.get("/api/auth/me", headers=teacher.headers)  # the token's first use records it (one UPDATE)
    counts = []
    for size in (2, 6):
        while len(roster(client, teacher, class_id)["students"]) < size:
            _busy_student(client, class_id, f"q{size}x{len(roster(client, teacher, class_id)['students'])}")
        with statements(client.app.state.engine) as seen:
            assert len(roster(client, teacher, class_id)["students"]) == size
        counts.append(len(seen))
    assert counts[0] == counts[1], f"{counts[0]} queries for 2 students, {counts[1]} for 6"
    with unit_of_work(client.app.state.engine) as session, statements(client.app.state.engine) as seen:
        roster_service.change_fingerprint(session, class_id)
    assert len(seen) == 1  # what the live roster asks every second: one statement


# --- live --------------------------------------------------------------------------------------------------------
def open_roster(client, user: UserHandle, class_id: int):
    return client.websocket_connect(f"/api/classes/{class_id}/roster/ws", subprotocols=[BEARER, user.token])


def next_roster_where(ws, condition, limit: float = LIVE_LIMIT) -> tuple[dict, float]:
    """The first roster message for which condition(message) holds, and the seconds it took to come."""
    started = time.monotonic()
    while True:
        left = limit - (time.monotonic() - started)
        assert left > 0, f"the roster did not show the change within {limit} s"
        message = receive_json(ws, timeout=left)
        if condition(message):
            return message, time.monotonic() - started


def test_the_live_roster_shows_a_students_upload_without_reloading(client):
    teacher, pia = new_user(client, "tina"), new_user(client, "pia")
    class_id = make_class(client, "10a", [teacher], [pia])
    project = new_project(client, pia, "pia's")
    with open_roster(client, teacher, class_id) as ws:
        first = receive_json(ws, timeout=LIVE_LIMIT)
        assert first == roster(client, teacher, class_id)  # the same JSON as GET .../roster, at once
        assert by_nickname(first)["pia"]["pages_uploaded"] == 0
        upload_files(client, pia, project["id"], ("page.png", scanpages.small_png(31)))
        message, seconds = next_roster_where(ws, lambda m: by_nickname(m)["pia"]["pages_uploaded"] == 1)
        print(f"BENCH roster shows an upload after {seconds:.2f} s")
        assert by_nickname(message)["pia"]["stuck"]["code"] == "not_extracted"
        # Samples come and one is left out: the counts follow (the live roster counts only what changed).
        import_samples(client, pia, project["id"], [0, 1, 2] * 10)
        next_roster_where(ws, lambda m: by_nickname(m)["pia"]["samples_kept"] == 30)
        cell = client.get(f"/api/projects/{project['id']}/dataset/cells", params={"limit": 1}, headers=pia.headers)
        edited = client.patch(f"/api/projects/{project['id']}/dataset/cells/{cell.json()['items'][0]['id']}",
                              json={"included": False}, headers=pia.headers)
        assert edited.status_code == 200, edited.text
        message, _ = next_roster_where(ws, lambda m: by_nickname(m)["pia"]["samples_kept"] == 29)
        assert message == roster(client, teacher, class_id)
        # A new student joins, then leaves: both show.
        leo = new_user(client, "leo")
        add_member(client, class_id, leo)
        next_roster_where(ws, lambda m: "leo" in by_nickname(m))
        remove_member(client, class_id, leo)
        next_roster_where(ws, lambda m: "leo" not in by_nickname(m))
    wait_until(lambda: client.app.state.roster_watchers.watching, lambda classes: not classes, 10,
               "the class's watcher stops with its last socket")


def test_the_live_roster_sees_changes_made_through_another_api_process(client):
    """Several API processes share the database: a student's upload through one reaches a roster socket on
    another (here a second app, with its own engine and event loop, on the same database)."""
    teacher, kai = new_user(client, "toni"), new_user(client, "kai")
    class_id = make_class(client, "10b", [teacher], [kai])
    project = new_project(client, kai, "kai's")
    with TestClient(create_app(client.app.state.settings, run_jobs=False)) as other_process:
        with open_roster(client, teacher, class_id) as ws:
            assert by_nickname(receive_json(ws, timeout=LIVE_LIMIT))["kai"]["pages_uploaded"] == 0
            upload_files(other_process, kai, project["id"], ("page.png", scanpages.small_png(32)))
            next_roster_where(ws, lambda m: by_nickname(m)["kai"]["pages_uploaded"] == 1)


def test_one_watcher_per_class_however_many_sockets(client):
    """Two teachers with the roster open: the class's fingerprint is still asked about once a second."""
    teacher, co_teacher, student = new_user(client, "tom"), new_user(client, "tod"), new_user(client, "sia")
    class_id = make_class(client, "11a", [teacher, co_teacher], [student])
    with open_roster(client, teacher, class_id) as first, open_roster(client, co_teacher, class_id) as second:
        assert receive_json(first, timeout=LIVE_LIMIT) == receive_json(second, timeout=LIVE_LIMIT)
        with statements(client.app.state.engine) as seen:
            time.sleep(3.0)
        assert 1 <= len(seen) <= 4, seen  # one idle look a second (not one per socket)


def test_the_live_roster_ends_for_a_teacher_who_leaves_the_class(client):
    teacher, student = new_user(client, "tara"), new_user(client, "sam")
    class_id = make_class(client, "12a", [teacher], [student])
    with open_roster(client, teacher, class_id) as ws:
        receive_json(ws, timeout=LIVE_LIMIT)
        remove_member(client, class_id, teacher)
        with pytest.raises(WebSocketDisconnect) as ended:
            receive_json(ws, timeout=LIVE_LIMIT)
        assert ended.value.code == 4404


@pytest.mark.parametrize("who", ["student", "other teacher", "no token", "bad token"])
def test_the_live_roster_refuses_everyone_but_the_classes_teachers(client, who):
    name = who.replace(" ", "_")
    teacher, student, other = (new_user(client, f"{role}-{name}") for role in ("t", "s", "o"))
    class_id = make_class(client, f"13 {who}", [teacher], [student])
    make_class(client, f"14 {who}", [other], [])
    protocols = {"student": [BEARER, student.token], "other teacher": [BEARER, other.token],
                 "no token": [BEARER], "bad token": [BEARER, "not-a-token"]}[who]
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(f"/api/classes/{class_id}/roster/ws", subprotocols=protocols) as ws:
            receive_json(ws, timeout=LIVE_LIMIT)
    assert refused.value.code == (4404 if who in ("student", "other teacher") else 4401)
