"""The class's handwriting as a data set: a teacher builds it, students see it anonymously and train on it, and a
network is evaluated "on other writers" (everyone in the class but the student who trained it)."""

from dataclasses import dataclass

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from digitlab.class_datasets.tables import ClassSample
from digitlab.classes.tables import SchoolClass
from digitlab.core.clock import utcnow
from digitlab.core.db import unit_of_work
from digitlab.main import create_app
from tests.api.class_rows import add_member, make_class, remove_member, user_id
from tests.api.helpers import all_cells, new_project, new_user
from tests.api.trainings import DIGITS, digits, drawing, import_samples, start_training, wait_for_training
from tests.conftest import UserHandle, make_settings, wait_until

LETTERS = list("abcdefghij")


@dataclass
class Lesson:
    client: TestClient
    teacher: UserHandle
    mia: UserHandle  # writer 1: two digit projects
    noah: UserHandle  # writer 2: digits, one project with the labels in another order
    ella: UserHandle  # writer 3: letters only
    otto: UserHandle  # in no class
    other_teacher: UserHandle  # teaches another class
    class_id: int
    projects: dict[str, dict]

    def url(self, path: str = "") -> str:
        return f"/api/classes/{self.class_id}{path}"


@pytest.fixture(scope="module")
def lesson(tmp_path_factory) -> Lesson:
    settings = make_settings(tmp_path_factory.mktemp("class-datasets") / "data")
    with TestClient(create_app(settings)) as client:
        users = {name: new_user(client, name) for name in ("tess", "mia", "noah", "ella", "otto", "tom")}
        class_id = make_class(client, "7b", [users["tess"]], [users["mia"], users["noah"], users["ella"]])
        make_class(client, "8a", [users["tom"]], [users["otto"]])
        projects = {}
        for key, owner, labels, n, seed in (("mia", "mia", None, 8, 1), ("mia2", "mia", None, 4, 2),
                                            ("noah", "noah", None, 6, 3), ("ella", "ella", LETTERS, 5, 4)):
            projects[key] = new_project(client, users[owner], key, labels)
            import_samples(client, users[owner], projects[key]["id"], *digits(n, seed=seed))
        # The same ten labels in another order: pooled by label text (digit d is stored as label "d").
        projects["noah_reversed"] = new_project(client, users["noah"], "backwards", list(reversed(DIGITS)))
        x, y = digits(3, seed=5)
        import_samples(client, users["noah"], projects["noah_reversed"]["id"], x, 9 - y)
        yield Lesson(client, users["tess"], users["mia"], users["noah"], users["ella"], users["otto"], users["tom"],
                     class_id, projects)


def build(lesson: Lesson, user: UserHandle | None = None, **body) -> dict:
    response = lesson.client.put(lesson.url("/dataset"), json=body, headers=(user or lesson.teacher).headers)
    assert response.status_code == 200, response.text
    return response.json()


def samples(lesson: Lesson, user: UserHandle, **params) -> dict:
    response = lesson.client.get(lesson.url("/dataset/samples"), params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_teacher_builds_it_from_the_students_samples_pooled_by_label(lesson: Lesson):
    built = build(lesson)
    assert built["labels"] == list(DIGITS) and built["version"] >= 1
    # mia 80 + 40, noah 60 + 30 (reversed labels pooled by text); ella's letters are left out and said so.
    assert built["total"] == 210
    assert {e["label"]: e["samples"] for e in built["per_label"]} == dict.fromkeys(DIGITS, 21)
    assert [(w["writer_number"], w["nickname"], w["samples"]) for w in built["per_writer"]] == [
        (1, "mia", 120), (2, "noah", 90)]
    assert sorted((s["project_name"], s["nickname"], s["samples"]) for s in built["sources"]) == [
        ("backwards", "noah", 30), ("mia", "mia", 80), ("mia2", "mia", 40), ("noah", "noah", 60)]
    assert [(s["project_name"], s["nickname"], s["reason"]) for s in built["skipped"]] == [
        ("ella", "ella", "different_labels")]
    # Labels a teacher names win over the majority: now ella's project is in and the digit projects are out.
    letters = build(lesson, labels=LETTERS)
    assert letters["total"] == 50 and [w["writer_number"] for w in letters["per_writer"]] == [3]
    assert {s["project_name"] for s in letters["skipped"]} == {"mia", "mia2", "noah", "backwards"}
    assert letters["version"] == built["version"] + 1
    build(lesson)


def test_students_see_counts_and_anonymous_images_only(lesson: Lesson):
    build(lesson)
    seen = lesson.client.get(lesson.url("/dataset"), headers=lesson.noah.headers)
    assert seen.status_code == 200
    body = seen.json()
    assert body["total"] == 210 and body["sources"] is None and body["skipped"] is None
    assert [(w["writer_number"], w["nickname"], w["you"]) for w in body["per_writer"]] == [
        (1, None, False), (2, None, True)]
    page = samples(lesson, lesson.noah, label="7", limit=50)
    assert page["total"] == 21 and len(page["items"]) == 21
    assert all(item["writer_number"] is None and item["nickname"] is None for item in page["items"])
    assert all(item["image"].startswith("data:image/png;base64,") for item in page["items"])
    everything = samples(lesson, lesson.noah, limit=1000)
    text = str(body) + str(everything)
    for nickname in ("mia", "tess", "ella"):
        assert nickname not in text  # no nickname of anyone reaches a student, anywhere in the answers
    # The teacher's page says whose each sample is.
    teacher_page = samples(lesson, lesson.teacher, label="7", limit=50)
    assert {(item["writer_number"], item["nickname"]) for item in teacher_page["items"]} == {(1, "mia"), (2, "noah")}
    assert len(samples(lesson, lesson.noah, limit=5, offset=208)["items"]) == 2
    unknown = lesson.client.get(lesson.url("/dataset/samples"), params={"label": "x"}, headers=lesson.noah.headers)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_label"


def test_it_is_a_snapshot_that_edits_do_not_change_but_deletions_do(lesson: Lesson):
    client, mia = lesson.client, lesson.mia
    before = build(lesson)
    project = lesson.projects["mia2"]["id"]
    cells = all_cells(client, mia, project, "included")
    # mia relabels one sample and excludes another in her project: the class data set stays as it was.
    for cell, change in ((cells[0], {"label": "3" if cells[0]["label"] != "3" else "4"}),
                         (cells[1], {"included": False})):
        response = client.patch(f"/api/projects/{project}/dataset/cells/{cell['id']}", json=change,
                                headers=mia.headers)
        assert response.status_code == 200
    after_edits = client.get(lesson.url("/dataset"), headers=lesson.teacher.headers).json()
    assert after_edits["per_label"] == before["per_label"] and after_edits["version"] == before["version"]
    # ... until the teacher rebuilds it.
    rebuilt = build(lesson)
    assert rebuilt["total"] == before["total"] - 1 and rebuilt["version"] == before["version"] + 1
    # Deleting a project takes its samples out at once (what a student deletes never lives on here).
    throwaway = new_project(client, mia, "throwaway")
    import_samples(client, mia, throwaway["id"], *digits(2, seed=9))
    assert build(lesson)["total"] == rebuilt["total"] + 20
    assert client.delete(f"/api/projects/{throwaway['id']}", headers=mia.headers).status_code == 204
    assert client.get(lesson.url("/dataset"), headers=lesson.teacher.headers).json()["total"] == rebuilt["total"]
    # Undo mia's edits for the other tests.
    for cell in cells[:2]:
        client.patch(f"/api/projects/{project}/dataset/cells/{cell['id']}",
                     json={"label": cell["label"], "included": True}, headers=mia.headers)
    build(lesson)


def test_a_student_who_leaves_the_class_leaves_the_data_set(lesson: Lesson):
    client = lesson.client
    leaver = new_user(client, "lea")
    add_member(client, lesson.class_id, leaver)
    project = new_project(client, leaver, "lea's")
    import_samples(client, leaver, project["id"], *digits(3, seed=6))
    built = build(lesson)
    assert "lea" in [w["nickname"] for w in built["per_writer"]]
    remove_member(client, lesson.class_id, leaver)
    after = client.get(lesson.url("/dataset"), headers=lesson.teacher.headers).json()
    assert after["total"] == built["total"] - 30 and "lea" not in [w["nickname"] for w in after["per_writer"]]
    assert client.get(lesson.url("/dataset"), headers=leaver.headers).status_code == 404
    with unit_of_work(client.app.state.engine) as session:  # the rows are gone, not just hidden
        assert not session.exec(select(ClassSample).where(ClassSample.project_id == project["id"])).all()


def test_chosen_students_and_projects(lesson: Lesson):
    mia_id = user_id(lesson.client, lesson.mia)
    only_mia = build(lesson, student_ids=[mia_id])
    assert only_mia["total"] == 120 and [w["nickname"] for w in only_mia["per_writer"]] == ["mia"]
    one_project = build(lesson, student_ids=[mia_id], project_ids=[lesson.projects["mia2"]["id"]])
    assert one_project["total"] == 40
    build(lesson, project_ids=[lesson.projects["mia"]["id"], lesson.projects["noah"]["id"]])
    before = lesson.client.get(lesson.url("/dataset"), headers=lesson.teacher.headers).json()
    otto_project = new_project(lesson.client, lesson.otto, "otto's")
    for body, code in (({"student_ids": [user_id(lesson.client, lesson.otto)]}, "not_a_student"),
                       ({"student_ids": [user_id(lesson.client, lesson.teacher)]}, "not_a_student"),
                       ({"project_ids": [otto_project["id"]]}, "not_a_student_project"),
                       ({"student_ids": [mia_id], "project_ids": [lesson.projects["noah"]["id"]]},
                        "not_a_student_project"),
                       ({"student_ids": [user_id(lesson.client, lesson.ella)], "labels": list(DIGITS)},
                        "empty_class_dataset"),
                       ({"labels": ["1"] * 10}, "validation_error")):
        response = lesson.client.put(lesson.url("/dataset"), json=body, headers=lesson.teacher.headers)
        assert response.status_code == 422 and response.json()["code"] == code, (body, response.text)
    # A refused build changes nothing.
    assert lesson.client.get(lesson.url("/dataset"), headers=lesson.teacher.headers).json() == before
    build(lesson)


def test_who_may_do_what(lesson: Lesson):
    client = lesson.client
    build(lesson)
    for user in (lesson.otto, lesson.other_teacher):  # outside the class: it does not exist for them
        for method, path in (("GET", "/dataset"), ("GET", "/dataset/samples"), ("PUT", "/dataset"),
                             ("DELETE", "/dataset")):
            response = client.request(method, lesson.url(path), headers=user.headers,
                                      **({"json": {}} if method == "PUT" else {}))
            assert response.status_code == 404, (user.username, method, path)
    # Students see it but do not build or delete it.
    assert client.put(lesson.url("/dataset"), json={}, headers=lesson.mia.headers).status_code == 404
    assert client.delete(lesson.url("/dataset"), headers=lesson.mia.headers).status_code == 404
    assert client.get(lesson.url("/dataset"), headers=lesson.mia.headers).status_code == 200
    # The teacher deletes it; then there is none until it is built again.
    assert client.delete(lesson.url("/dataset"), headers=lesson.teacher.headers).status_code == 204
    assert client.get(lesson.url("/dataset"), headers=lesson.mia.headers).status_code == 404
    build(lesson)


def test_a_closed_class_takes_no_new_data_set(lesson: Lesson):
    class_id = make_class(lesson.client, "closed", [lesson.teacher], [lesson.mia])
    with unit_of_work(lesson.client.app.state.engine) as session:
        session.get(SchoolClass, class_id).closed_at = utcnow()
    response = lesson.client.put(f"/api/classes/{class_id}/dataset", json={}, headers=lesson.teacher.headers)
    assert response.status_code == 409 and response.json()["code"] == "class_closed"


# ------------------------------------------------------------------------------------------ training on it

def other_writers(lesson: Lesson, user: UserHandle, training_id: int, method: str = "GET"):
    return lesson.client.request(method, lesson.url(f"/trainings/{training_id}/other-writers"), headers=user.headers)


@pytest.mark.slow
def test_a_student_trains_on_the_class_data_set_like_on_any_other(lesson: Lesson):
    client, ella = lesson.client, lesson.ella
    build(lesson)
    # ella's own project has letters; she trains on the class's digits from it.
    project = lesson.projects["ella"]["id"]
    summary = client.post(f"/api/projects/{project}/trainings/summary",
                          json={"architecture": "mlp", "class_id": lesson.class_id}, headers=ella.headers)
    assert summary.status_code == 200 and summary.json()["memory"]["samples"] == 210
    training = wait_for_training(client, ella, start_training(client, ella, project, architecture="mlp", epochs=2,
                                                              class_id=lesson.class_id))
    assert training["status"] == "succeeded", training
    assert training["labels"] == list(DIGITS)
    assert training["settings"]["class_id"] == lesson.class_id
    assert sum(training["dataset"]["test"].values()) + sum(training["dataset"]["train"].values()) + \
        sum(training["dataset"]["val"].values()) == 210
    base = f"/api/projects/{project}/trainings/{training['id']}"
    evaluation = client.get(f"{base}/evaluation", headers=ella.headers).json()
    assert evaluation["labels"] == list(DIGITS)
    assert all(sample["cell_id"] is None for sample in evaluation["gallery"])  # anonymous: no cell of anyone's
    assert client.get(f"{base}/files/model.onnx", headers=ella.headers).status_code == 200
    x, _ = digits(1, seed=11)
    predicted = client.post(f"{base}/predict", headers=ella.headers,
                            files={"image": ("d.png", drawing(x[7]), "image/png")})
    assert predicted.status_code == 200 and predicted.json()["labels"] == list(DIGITS)
    # A network that learned from the class data set is not evaluated on it: the other writers are not new to it.
    refused = other_writers(lesson, ella, training["id"], "POST")
    assert refused.status_code == 409 and refused.json()["code"] == "trained_on_class_dataset"


def test_training_on_a_class_data_set_needs_the_class_and_its_data_set(lesson: Lesson):
    client = lesson.client
    build(lesson)
    project = lesson.projects["mia"]["id"]
    other_class = make_class(client, "no data set yet", [lesson.other_teacher], [lesson.mia])
    for class_id, status, code in ((other_class, 409, "no_class_dataset"), (10**6, 404, "not_found")):
        response = client.post(f"/api/projects/{project}/trainings", headers=lesson.mia.headers,
                               json={"architecture": "mlp", "epochs": 1, "class_id": class_id})
        assert (response.status_code, response.json()["code"]) == (status, code)
    # otto is not in the class: to him it does not exist.
    otto_project = new_project(client, lesson.otto, "otto trains")
    response = client.post(f"/api/projects/{otto_project['id']}/trainings", headers=lesson.otto.headers,
                           json={"architecture": "mlp", "epochs": 1, "class_id": lesson.class_id})
    assert response.status_code == 404


@pytest.mark.slow
def test_evaluation_on_other_writers(lesson: Lesson):
    client, mia, noah, teacher = lesson.client, lesson.mia, lesson.noah, lesson.teacher
    build(lesson)
    project = lesson.projects["mia"]["id"]
    training = wait_for_training(client, mia, start_training(client, mia, project, architecture="mlp", epochs=4))
    assert training["status"] == "succeeded", training
    started = other_writers(lesson, mia, training["id"], "POST")
    assert started.status_code == 202, started.text
    assert started.json()["status"] in ("queued", "running", "succeeded")
    result = wait_until(lambda: other_writers(lesson, mia, training["id"]).json(),
                        lambda body: body["status"] in ("succeeded", "failed", "cancelled"), 180, "other writers")
    assert result["status"] == "succeeded", result
    # Everyone but mia: noah's 90 samples (ella's letters are not in the digit data set).
    assert result["count"] == 90 and result["skipped"] == 0
    assert [(w["writer_number"], w["nickname"], w["count"]) for w in result["per_writer"]] == [(2, None, 90)]
    assert result["trained_by"] is None
    assert 0 <= result["accuracy"] <= 1 and result["correct"] == round(result["accuracy"] * 90)
    assert result["own_test_accuracy"] == training["test_accuracy"]
    assert result["gap"] == pytest.approx(result["own_test_accuracy"] - result["accuracy"])
    assert sum(e["count"] for e in result["per_label"]) == 90
    assert sum(e["count"] for e in result["per_writer"][0]["per_label"]) == 90
    assert not result["stale"] and len(result["weakest"]) <= 3
    assert all(spot["nickname"] is None and spot["accuracy"] < 1 for spot in result["weakest"])
    # The teacher reads the same answer with nicknames.
    seen = other_writers(lesson, teacher, training["id"]).json()
    assert seen["trained_by"] == "mia" and [w["nickname"] for w in seen["per_writer"]] == ["noah"]
    assert seen["accuracy"] == result["accuracy"]
    # Another student cannot read or start mia's evaluation; neither can anyone outside the class.
    for user in (noah, lesson.otto, lesson.other_teacher):
        assert other_writers(lesson, user, training["id"]).status_code == 404
        assert other_writers(lesson, user, training["id"], "POST").status_code == 404
    # A rebuilt data set makes the figures stale until asked again.
    build(lesson)
    assert other_writers(lesson, mia, training["id"]).json()["stale"] is True
    again = other_writers(lesson, teacher, training["id"], "POST")  # teachers may ask too
    assert again.status_code == 202 and again.json()["stale"] is False
    # An unfinished training: 409; with no data set: 409.
    assert client.delete(lesson.url("/dataset"), headers=teacher.headers).status_code == 204
    refused = other_writers(lesson, mia, training["id"], "POST")
    assert refused.status_code == 409 and refused.json()["code"] == "no_class_dataset"
    build(lesson)


def test_numbers_without_a_network(lesson: Lesson):
    """The figures of the other-writers answer, from known predictions (no training needed)."""
    from digitlab.class_datasets.jobs import other_writers_result

    y = np.array([7] * 4 + [1] * 4 + [7] * 4)
    predicted = np.array([1, 1, 7, 7] + [1] * 4 + [7] * 4)
    writers = np.array([3] * 8 + [5] * 4)
    result = other_writers_result(y, predicted, writers, list(DIGITS))
    assert (result["count"], result["correct"]) == (12, 10)
    assert [(w["writer_number"], w["accuracy"]) for w in result["per_writer"]] == [(3, 0.75), (5, 1.0)]
    # "your network reads writer 3's sevens badly"
    assert result["weakest"] == [{"writer_number": 3, "label": "7", "count": 4, "correct": 2, "accuracy": 0.5}]
