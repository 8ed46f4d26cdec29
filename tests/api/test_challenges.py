"""The class challenge: sheets a teacher marks as a hidden test set, every class training's score on it (on request,
when the challenge is set, and by itself when a training finishes), the leaderboard, and the grade it gives."""

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from digitlab.challenges import service as challenges_service
from digitlab.challenges.tables import ChallengeSample, ChallengeScore
from digitlab.core.db import unit_of_work
from digitlab.main import create_app
from tests.api import scanpages
from tests.api.class_rows import add_member, make_class, remove_member, user_id
from tests.api.helpers import all_cells, new_project, new_user, start_extraction, upload_files
from tests.api.trainings import digits, import_samples, start_training, wait_for_training
from tests.conftest import UserHandle, make_settings, wait_for_job, wait_until

pytestmark = pytest.mark.slow  # extractions and trainings: a minute or so for the module


@dataclass
class Classroom:
    client: TestClient
    teacher: UserHandle
    mia: UserHandle  # writer 1
    noah: UserHandle  # writer 2
    otto: UserHandle  # in another class
    other_teacher: UserHandle
    class_id: int
    teacher_project: int
    teacher_scans: list[int]  # two extracted sheets of the teacher's own project
    noah_project: int
    noah_scan: int  # an extracted sheet of noah's
    early_training: dict  # mia's, finished before any challenge was set

    def url(self, path: str = "") -> str:
        return f"/api/classes/{self.class_id}{path}"


def extracted_sheets(client, user: UserHandle, project_id: int, seeds: list[int]) -> list[int]:
    pages = [(f"sheet{seed}.png", scanpages.png(scanpages.grid_page(seed=seed))) for seed in seeds]
    scans = upload_files(client, user, project_id, *pages)
    job = wait_for_job(client, user, start_extraction(client, user, project_id)["id"])
    assert job["status"] == "succeeded", job
    return [scan["id"] for scan in scans]


@pytest.fixture(scope="module")
def room(tmp_path_factory) -> Classroom:
    settings = make_settings(tmp_path_factory.mktemp("challenges") / "data")
    with TestClient(create_app(settings)) as client:
        users = {name: new_user(client, name) for name in ("tess", "mia", "noah", "otto", "tom")}
        class_id = make_class(client, "7b", [users["tess"]], [users["mia"], users["noah"]])
        make_class(client, "8a", [users["tom"]], [users["otto"]])
        teacher_project = new_project(client, users["tess"], "challenge sheets")["id"]
        teacher_scans = extracted_sheets(client, users["tess"], teacher_project, [61, 62])
        noah_project = new_project(client, users["noah"], "noah")["id"]
        [noah_scan] = extracted_sheets(client, users["noah"], noah_project, [63])
        import_samples(client, users["noah"], noah_project, *digits(6, seed=64))
        mia_project = new_project(client, users["mia"], "mia")["id"]
        import_samples(client, users["mia"], mia_project, *digits(8, seed=65))
        early = wait_for_training(client, users["mia"], start_training(client, users["mia"], mia_project,
                                                                       architecture="mlp", epochs=3))
        assert early["status"] == "succeeded", early
        yield Classroom(client, users["tess"], users["mia"], users["noah"], users["otto"], users["tom"], class_id,
                        teacher_project, teacher_scans, noah_project, noah_scan, early)


def set_challenge(room: Classroom, scan_ids: list[int], user: UserHandle | None = None):
    return room.client.put(room.url("/challenge"), json={"scan_ids": scan_ids},
                           headers=(user or room.teacher).headers)


def score_of(room: Classroom, user: UserHandle, training_id: int, method: str = "GET"):
    return room.client.request(method, room.url(f"/trainings/{training_id}/challenge-score"), headers=user.headers)


def wait_for_score(room: Classroom, user: UserHandle, training_id: int) -> dict:
    return wait_until(lambda: score_of(room, user, training_id).json(),
                      lambda body: body["status"] in ("scored", "failed", "cancelled"), 180,
                      f"score of training {training_id}")


def leaderboard(room: Classroom, user: UserHandle) -> dict:
    response = room.client.get(room.url("/challenge/leaderboard"), headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_teachers_sheets_become_a_hidden_test_set(room: Classroom):
    client = room.client
    response = set_challenge(room, room.teacher_scans)
    assert response.status_code == 200, response.text
    challenge = response.json()
    kept = len(all_cells(client, room.teacher, room.teacher_project, "included"))
    assert challenge["sample_count"] == kept > 0
    assert challenge["labels"] == list("0123456789")
    assert [sheet["scan_id"] for sheet in challenge["sheets"]] == room.teacher_scans
    assert all(sheet["owner"] == "tess" for sheet in challenge["sheets"])
    # Students learn that there is a challenge, and its size, but nothing of its sheets or samples.
    seen = client.get(room.url("/challenge"), headers=room.mia.headers)
    assert seen.status_code == 200
    assert seen.json()["sheets"] is None and seen.json()["per_label"] is None
    assert seen.json()["sample_count"] == challenge["sample_count"]
    for user in (room.mia, room.noah):
        assert client.get(room.url("/challenge/samples"), headers=user.headers).status_code == 404
        # ... nor through the teacher's project, its scans or its cells.
        for path in ("", "/scans", f"/scans/{room.teacher_scans[0]}/original", "/dataset/cells",
                     "/dataset/export"):
            assert client.get(f"/api/projects/{room.teacher_project}{path}", headers=user.headers).status_code == 404
    teacher_samples = client.get(room.url("/challenge/samples"), params={"limit": 5}, headers=room.teacher.headers)
    assert teacher_samples.status_code == 200 and teacher_samples.json()["total"] == kept
    assert teacher_samples.json()["items"][0]["image"].startswith("data:image/png;base64,")


def test_the_class_trainings_are_scored_and_ranked(room: Classroom):
    client, mia, noah = room.client, room.mia, room.noah
    assert set_challenge(room, room.teacher_scans).status_code == 200
    # mia's training from before the challenge is scored by a job the challenge started.
    early = wait_for_score(room, mia, room.early_training["id"])
    assert early["status"] == "scored", early
    assert 0 <= early["score"] <= 1 and early["count"] == client.get(room.url("/challenge"), headers=mia.headers
                                                                        ).json()["sample_count"]
    # noah's training finishing now is scored by itself, with no request.
    training = wait_for_training(client, noah, start_training(client, noah, room.noah_project, architecture="cnn",
                                                              epochs=2))
    assert training["status"] == "succeeded", training
    noah_score = score_of(room, noah, training["id"]).json()
    assert noah_score["status"] == "scored", noah_score
    board = leaderboard(room, mia)
    assert sorted(entry["nickname"] for entry in board["entries"]) == ["mia", "noah"]
    by_name = {entry["nickname"]: entry for entry in board["entries"]}
    assert by_name["mia"]["architecture"] == "mlp" and by_name["mia"]["total_params"] == 89_610
    assert by_name["noah"]["architecture"] == "cnn" and by_name["noah"]["total_params"] == 225_034
    assert by_name["noah"]["score"] == noah_score["score"] and by_name["mia"]["score"] == early["score"]
    assert [entry["score"] for entry in board["entries"]] == sorted((e["score"] for e in board["entries"]),
                                                                    reverse=True)
    assert board["entries"][0]["rank"] == 1
    # mia sees her own training's id, not noah's; the teacher sees both.
    assert by_name["mia"]["you"] and by_name["mia"]["training_id"] == room.early_training["id"]
    assert by_name["noah"]["training_id"] is None and by_name["noah"]["project_id"] is None
    assert all(entry["training_id"] for entry in leaderboard(room, room.teacher)["entries"])
    # The grade a learning platform receives is the best score.
    with unit_of_work(client.app.state.engine) as session:
        assert challenges_service.best_score(session, room.class_id, user_id(client, noah)) == noah_score["score"]
        assert challenges_service.best_score(session, room.class_id, user_id(client, room.otto)) is None
    # A second, better-or-worse training: the leaderboard keeps each student's best only.
    second = wait_for_training(client, mia, start_training(client, mia, room.early_training["project_id"],
                                                           architecture="mlp", epochs=1, seed=3))
    assert score_of(room, mia, second["id"]).json()["status"] == "scored"
    entries = leaderboard(room, room.teacher)["entries"]
    assert [entry["nickname"] for entry in entries].count("mia") == 1
    best_mia = max(early["score"], score_of(room, mia, second["id"]).json()["score"])
    assert {e["nickname"]: e["score"] for e in entries}["mia"] == best_mia
    # Asking again for a scored training changes nothing.
    again = score_of(room, mia, room.early_training["id"], "POST")
    assert again.status_code == 202 and again.json()["score"] == early["score"]


def test_scoring_on_request_and_what_cannot_be_scored(room: Classroom):
    client, mia = room.client, room.mia
    assert set_challenge(room, room.teacher_scans).status_code == 200
    wait_for_score(room, mia, room.early_training["id"])
    # Deleting a score makes it "not scored"; the student asks for it and a job scores it.
    with unit_of_work(client.app.state.engine) as session:
        for score in session.exec(select(ChallengeScore).where(ChallengeScore.training_id == room.early_training["id"])):
            session.delete(score)
    assert score_of(room, mia, room.early_training["id"]).json()["status"] == "not_scored"
    requested = score_of(room, mia, room.early_training["id"], "POST")
    assert requested.status_code == 202 and requested.json()["status"] in ("queued", "running", "scored")
    assert wait_for_score(room, mia, room.early_training["id"])["status"] == "scored"
    # A network for other labels cannot be scored on digits.
    letters = new_project(client, mia, "letters", list("abcdefghij"))
    import_samples(client, mia, letters["id"], *digits(4, seed=66))
    training = wait_for_training(client, mia, start_training(client, mia, letters["id"], architecture="mlp", epochs=1))
    refused = score_of(room, mia, training["id"], "POST")
    assert refused.status_code == 409 and refused.json()["code"] == "labels_do_not_match"
    assert score_of(room, mia, training["id"]).json()["status"] == "not_scored"
    # Another student's training, or one of someone outside the class: not found.
    assert score_of(room, room.noah, room.early_training["id"], "POST").status_code == 404
    assert score_of(room, room.otto, room.early_training["id"]).status_code == 404


def test_a_students_sheet_leaves_the_class_data_set_and_their_trainings(room: Classroom):
    client, noah, teacher = room.client, room.noah, room.teacher
    assert client.delete(room.url("/challenge"), headers=teacher.headers).status_code in (204, 404)
    sheet_cells = [c for c in all_cells(client, noah, room.noah_project, "included") if c["scan_id"] == room.noah_scan]
    built = client.put(room.url("/dataset"), json={}, headers=teacher.headers).json()
    assert built["total"] == len(all_cells(client, noah, room.noah_project, "included")) + 80
    # The teacher marks noah's sheet: its samples leave the class data set at once, and every later build.
    response = set_challenge(room, [room.noah_scan])
    assert response.status_code == 200 and response.json()["sheets"][0]["owner"] == "noah"
    after = client.get(room.url("/dataset"), headers=room.mia.headers).json()
    assert after["total"] == built["total"] - len(sheet_cells) and after["version"] == built["version"] + 1
    assert client.put(room.url("/dataset"), json={}, headers=teacher.headers).json()["total"] == after["total"]
    # noah's trainings no longer learn from it (it is the test set now): only his imported samples.
    training = wait_for_training(client, noah, start_training(client, noah, room.noah_project, architecture="mlp",
                                                              epochs=1))
    learned = sum(sum(part.values()) for part in training["dataset"].values())
    assert learned == 60
    # The copied samples are the teacher's to see; a relabel in noah's project does not change them.
    cell = sheet_cells[0]
    client.patch(f"/api/projects/{room.noah_project}/dataset/cells/{cell['id']}",
                 json={"label": "0" if cell["label"] != "0" else "1"}, headers=noah.headers)
    with unit_of_work(client.app.state.engine) as session:
        labels = [s.label for s in session.exec(select(ChallengeSample).where(ChallengeSample.scan_id == room.noah_scan))]
    assert sorted(labels) == sorted(c["label"] for c in sheet_cells)
    client.patch(f"/api/projects/{room.noah_project}/dataset/cells/{cell['id']}", json={"label": cell["label"]},
                 headers=noah.headers)


def test_setting_it_again_replaces_it_and_bad_sheets_are_refused(room: Classroom):
    client = room.client
    assert set_challenge(room, room.teacher_scans).status_code == 200
    wait_for_score(room, room.mia, room.early_training["id"])
    assert leaderboard(room, room.teacher)["entries"]
    before = client.get(room.url("/challenge"), headers=room.teacher.headers).json()
    otto_project = new_project(client, room.otto, "otto")["id"]
    [otto_scan] = upload_files(client, room.otto, otto_project, ("o.png", scanpages.png(scanpages.grid_page(seed=67))))
    letters = new_project(client, room.teacher, "letters", list("abcdefghij"))["id"]
    [letter_scan] = extracted_sheets(client, room.teacher, letters, [68])
    [unextracted] = upload_files(client, room.teacher, room.teacher_project,
                                 ("new.png", scanpages.png(scanpages.grid_page(seed=69))))
    for scan_ids, code in (([otto_scan["id"]], "not_a_class_sheet"), ([10**6], "not_a_class_sheet"),
                           ([room.teacher_scans[0], letter_scan], "mixed_labels"),
                           ([unextracted["id"]], "empty_challenge"), ([], "validation_error")):
        response = set_challenge(room, scan_ids)
        assert response.status_code == 422 and response.json()["code"] == code, (scan_ids, response.text)
    after = client.get(room.url("/challenge"), headers=room.teacher.headers).json()
    # The class's other trainings go on being scored in the background; a refused set must not reset their scores.
    assert after.pop("scored_trainings") >= before.pop("scored_trainings") > 0
    assert after == before
    # Students and other teachers cannot set it.
    for user in (room.mia, room.other_teacher, room.otto):
        assert set_challenge(room, room.teacher_scans[:1], user).status_code == 404
    # A new challenge starts from no scores.
    replaced = set_challenge(room, room.teacher_scans[:1])
    assert replaced.status_code == 200 and replaced.json()["scored_trainings"] == 0
    wait_for_score(room, room.mia, room.early_training["id"])
    assert client.delete(room.url("/challenge"), headers=room.teacher.headers).status_code == 204
    assert client.get(room.url("/challenge/leaderboard"), headers=room.mia.headers).status_code == 404


def test_who_sees_the_leaderboard(room: Classroom):
    client = room.client
    assert set_challenge(room, room.teacher_scans).status_code == 200
    for user in (room.otto, room.other_teacher):
        for path in ("/challenge", "/challenge/leaderboard", "/challenge/samples"):
            assert client.get(room.url(path), headers=user.headers).status_code == 404, (user.username, path)
    leaver = new_user(client, "lea")
    add_member(client, room.class_id, leaver)
    assert client.get(room.url("/challenge/leaderboard"), headers=leaver.headers).status_code == 200
    remove_member(client, room.class_id, leaver)
    for path in ("/challenge", "/challenge/leaderboard"):
        assert client.get(room.url(path), headers=leaver.headers).status_code == 404
