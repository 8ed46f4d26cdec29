"""A teacher opens a student's project read-only, to help: everything the student can look at (scans with
previews and originals, the dataset, trainings with their stream, evaluation, model and playground), and nothing
they could change. Other teachers and other students get 404, and a removed student is out of reach at once.

The student's things are real: an extracted scan, imported samples and a finished training (a few seconds).
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from digitlab.main import create_app
from tests.api import scanpages
from tests.api.class_rows import add_member, make_class, remove_member
from tests.api.datafiles import mnist_npz
from tests.api.helpers import new_project, new_user, start_extraction, upload_files
from tests.api.trainings import (digits, drawing, import_samples, read_until_end, receive_json, start_training,
                                 wait_for_training)
from tests.conftest import UserHandle, make_settings, wait_for_job

BEARER = "digitlab.bearer"


@dataclass
class Lesson:
    client: TestClient
    student: UserHandle  # sam, in tara's class
    teacher: UserHandle  # tara
    classmate: UserHandle  # cleo, also in tara's class
    other_teacher: UserHandle  # otto, teaches another class
    other_student: UserHandle  # olga, in otto's class
    class_id: int
    project: dict
    scan: dict
    job: dict
    cell: dict
    training: dict

    def reads(self) -> list[str]:
        """Every GET a student has on their project's things."""
        p, t = f"/api/projects/{self.project['id']}", f"/api/projects/{self.project['id']}/trainings/{self.training['id']}"
        s = f"{p}/scans/{self.scan['id']}"
        return [p, f"{p}/sheet.pdf", f"{p}/scans", s, f"{s}/original", f"{s}/thumbnail", f"{s}/preview", f"{p}/jobs",
                f"/api/jobs/{self.job['id']}", f"{p}/dataset", f"{p}/dataset/cells?which=all&limit=1000",
                f"{p}/dataset/cells/{self.cell['id']}/image.png", f"{p}/dataset/sheets/0.png",
                f"{p}/dataset/export?format=zip", f"{p}/trainings", t, f"{t}/history", f"{t}/evaluation",
                f"{t}/confusion/0/0", f"{t}/files/model.onnx", f"{t}/files/model.keras", f"{t}/files/card.json"]

    def changes(self) -> list[tuple[str, str, dict]]:
        """Every request that would change the student's things, with a valid body."""
        p, t = f"/api/projects/{self.project['id']}", f"/api/projects/{self.project['id']}/trainings/{self.training['id']}"
        npz = mnist_npz([7, 8, 9], seed=77)
        return [("PATCH", p, {"json": {"name": "taken over"}}),
                ("POST", f"{p}/scans", {"files": [("files", ("b.png", scanpages.small_png(77), "image/png"))]}),
                ("POST", f"{p}/extractions", {"json": {}}),
                ("POST", f"/api/jobs/{self.job['id']}/cancel", {}),
                ("PATCH", f"{p}/dataset/cells/{self.cell['id']}", {"json": {"included": False}}),
                ("POST", f"{p}/dataset/import", {"files": {"file": ("b.npz", npz, "application/octet-stream")}}),
                ("POST", f"{p}/trainings/summary", {"json": {"architecture": "mlp"}}),
                ("POST", f"{p}/trainings", {"json": {"architecture": "mlp", "epochs": 1}}),
                ("POST", f"{t}/cancel", {}),
                ("DELETE", f"{p}/scans/{self.scan['id']}", {}),
                ("DELETE", p, {})]

    def predict(self, user: UserHandle):
        url = f"/api/projects/{self.project['id']}/trainings/{self.training['id']}/predict?activations=true"
        image = drawing(digits(1, seed=3)[0][0], 200)
        return self.client.post(url, headers=user.headers, files={"image": ("d.png", image, "image/png")})


@pytest.fixture(scope="module")
def lesson(tmp_path_factory) -> Iterator[Lesson]:
    settings = make_settings(tmp_path_factory.mktemp("teacher-views") / "data")
    with TestClient(create_app(settings)) as client:
        sam, tara, cleo, otto, olga = (new_user(client, n) for n in ("sam", "tara", "cleo", "otto", "olga"))
        class_id = make_class(client, "7b", [tara], [sam, cleo])
        make_class(client, "7c", [otto], [olga])
        project = new_project(client, sam, "sam's digits")
        [scan] = upload_files(client, sam, project["id"], ("sheet.png", scanpages.png(scanpages.grid_page(seed=21))))
        job = wait_for_job(client, sam, start_extraction(client, sam, project["id"])["id"])
        assert job["status"] == "succeeded", job
        x, y = digits(5, seed=22)
        import_samples(client, sam, project["id"], x, y)
        training = wait_for_training(client, sam, start_training(client, sam, project["id"], architecture="mlp",
                                                                 epochs=1))
        assert training["status"] == "succeeded", training
        cell = client.get(f"/api/projects/{project['id']}/dataset/cells", params={"limit": 1},
                          headers=sam.headers).json()["items"][0]
        new_project(client, tara, "tara's own")
        yield Lesson(client, sam, tara, cleo, otto, olga, class_id, project, scan, job, cell, training)


def snapshot(lesson: Lesson) -> dict[str, str]:
    """Everything the student can read, as the student sees it (hashes of the answers)."""
    state = {url: hashlib.sha256(lesson.client.get(url, headers=lesson.student.headers).content).hexdigest()
             for url in lesson.reads() if not url.endswith(("sheet.pdf", "export?format=zip"))}
    state["/api/projects"] = lesson.client.get("/api/projects", headers=lesson.student.headers).text
    return state


def test_a_teacher_sees_everything_the_student_sees(lesson):
    client = lesson.client
    for url in lesson.reads():
        own = client.get(url, headers=lesson.student.headers)
        theirs = client.get(url, headers=lesson.teacher.headers)
        assert own.status_code == theirs.status_code == 200, (url, theirs.status_code, theirs.text[:200])
        assert theirs.headers["content-type"] == own.headers["content-type"], url
        if not url.endswith(("sheet.pdf", "export?format=zip")):  # those two carry the moment they were made
            assert theirs.content == own.content, url


def test_a_teacher_tries_the_students_network_in_the_playground(lesson):
    """predict changes nothing: it is reading, so the teacher may draw in the student's playground."""
    own, theirs = lesson.predict(lesson.student), lesson.predict(lesson.teacher)
    assert own.status_code == theirs.status_code == 200, theirs.text
    assert theirs.json() == own.json() and theirs.json()["activations"]


def test_a_teacher_watches_the_students_training_stream(lesson):
    url = f"/api/projects/{lesson.project['id']}/trainings/{lesson.training['id']}/ws"
    with lesson.client.websocket_connect(url, subprotocols=[BEARER, lesson.teacher.token]) as ws:
        messages = read_until_end(ws, [receive_json(ws, timeout=30)], timeout=60)
    history = lesson.client.get(url.removesuffix("/ws") + "/history", headers=lesson.student.headers).json()
    assert messages == history and messages[-1]["type"] == "end"


def test_a_teacher_changes_nothing_of_the_students(lesson):
    client = lesson.client
    before = snapshot(lesson)
    for method, url, body in lesson.changes():
        response = client.request(method, url, headers=lesson.teacher.headers, **body)
        assert response.status_code == 404, (method, url, response.status_code, response.text[:200])
        assert response.json()["code"] == "not_found"
    assert snapshot(lesson) == before


def test_the_project_lists_stay_everyones_own(lesson):
    """The teacher reaches a student's projects through the roster, never in their own project list."""
    client = lesson.client
    assert [p["name"] for p in client.get("/api/projects", headers=lesson.teacher.headers).json()] == ["tara's own"]
    assert [p["name"] for p in client.get("/api/projects", headers=lesson.student.headers).json()] == ["sam's digits"]
    roster = client.get(f"/api/classes/{lesson.class_id}/roster", headers=lesson.teacher.headers).json()
    sam = next(s for s in roster["students"] if s["nickname"] == "sam")
    assert sam["projects"] == [{"id": lesson.project["id"], "name": "sam's digits"}]


def test_the_roster_shows_the_students_real_work(lesson):
    client = lesson.client
    roster = client.get(f"/api/classes/{lesson.class_id}/roster", headers=lesson.teacher.headers).json()
    sam = next(s for s in roster["students"] if s["nickname"] == "sam")
    dataset = client.get(f"/api/projects/{lesson.project['id']}/dataset", headers=lesson.student.headers).json()
    training = client.get(f"/api/projects/{lesson.project['id']}/trainings/{lesson.training['id']}",
                          headers=lesson.student.headers).json()
    assert (sam["pages_uploaded"], sam["samples_kept"], sam["trainings"]) == (1, dataset["total"], 1)
    assert sam["best_test_accuracy"] == training["test_accuracy"] is not None
    assert sam["stuck"] is None and sam["working"] is False


@pytest.mark.parametrize("who", ["other_teacher", "other_student", "classmate"])
def test_other_teachers_and_students_get_404(lesson, who):
    outsider: UserHandle = getattr(lesson, who)
    client = lesson.client
    for url in lesson.reads():
        response = client.get(url, headers=outsider.headers)
        assert response.status_code == 404, (who, url, response.status_code)
    assert lesson.predict(outsider).status_code == 404
    url = f"/api/projects/{lesson.project['id']}/trainings/{lesson.training['id']}/ws"
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(url, subprotocols=[BEARER, outsider.token]) as ws:
            receive_json(ws, timeout=30)
    assert refused.value.code == 4404


def test_a_removed_student_is_out_of_the_teachers_reach_at_once(lesson):
    client = lesson.client
    remove_member(client, lesson.class_id, lesson.student)
    try:
        for url in lesson.reads():
            assert client.get(url, headers=lesson.teacher.headers).status_code == 404, url
        assert lesson.predict(lesson.teacher).status_code == 404
        roster = client.get(f"/api/classes/{lesson.class_id}/roster", headers=lesson.teacher.headers).json()
        assert [s["nickname"] for s in roster["students"]] == ["cleo"]
        # The student's own access is untouched.
        assert all(client.get(url, headers=lesson.student.headers).status_code == 200 for url in lesson.reads())
    finally:
        add_member(client, lesson.class_id, lesson.student)
