"""Data protection for minors (issue 10; GDPR articles 5, 15, 17, 20): export everything of a student as one zip,
delete it (the student, or a teacher of their class), and the class retention period the service enforces itself.

The proof that deleting leaves nothing: before the deletion the test lists the student's rows (by the columns it
knows), after it every table of the database, as the database itself describes them (reflected, not our models),
is searched for those rows and for anything pointing at them, every text column for the student's nickname, the
SQLite file's bytes for it, and the data folder for their files.
"""

import hashlib
import io
import json
import os
import secrets
import sqlite3
import time
import tracemalloc
import zipfile
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, String, Text, inspect
from sqlmodel import col, select

from digitlab.auth.tables import AuthToken, User
from digitlab.challenges.tables import Challenge, ChallengeSample, ChallengeSheet
from digitlab.class_datasets.tables import ClassDataset, ClassSample
from digitlab.classes.tables import ClassMember, ClassRole, JoinCode, SchoolClass
from digitlab.core.clock import utcnow
from digitlab.core.db import stored_id, unit_of_work
from digitlab.datasets.tables import Cell, DatasetImport
from digitlab.jobs.tables import Job
from digitlab.main import create_app
from digitlab.privacy import archive, retention
from digitlab.projects.tables import Project
from digitlab.scans.tables import Scan
from digitlab.training.tables import Training, TrainingEvent
from tests.api import scanpages
from tests.api.datafiles import decode_png, mnist_npz
from tests.api.helpers import new_project, new_user, start_extraction, stored_files, upload_files
from tests.api.test_limits import fill_disk, tiny_disk  # noqa: F401  (the fixture)
from tests.api.trainings import digits, import_samples, start_training, wait_for_training
from tests.conftest import PASSWORD, TEST_DATABASE, UserHandle, make_settings, wait_for_job, wait_until
from tests.jobs.backends import local_redis

MB = 1024 * 1024


# --- helpers --------------------------------------------------------------------------------------------------
def engine_of(client):
    return client.app.state.engine


def user_id(client, user: UserHandle) -> int:
    return client.get("/api/auth/me", headers=user.headers).json()["id"]


def make_class(client, name: str, teacher: UserHandle, students: list[UserHandle], made_for_class=(),
               delete_after=None) -> int:
    """A class written straight into the database (how classes are made is not this file's business);
    `made_for_class`: the students whose accounts exist only for it."""
    teacher_id = user_id(client, teacher)
    student_ids = [(user_id(client, s), s in made_for_class) for s in students]
    with unit_of_work(engine_of(client)) as session:
        school_class = SchoolClass(name=name, delete_after=delete_after or utcnow() + timedelta(days=365))
        session.add(school_class)
        session.flush()
        class_id = stored_id(school_class)
        session.get(User, teacher_id).role = "teacher"
        session.add(ClassMember(class_id=class_id, user_id=teacher_id, role=ClassRole.TEACHER))
        for number, (student_id, made) in enumerate(student_ids, start=1):
            session.add(ClassMember(class_id=class_id, user_id=student_id, role=ClassRole.STUDENT,
                                    writer_number=number, account_made_for_class=made))
        session.add(JoinCode(class_id=class_id, code=f"JOIN{class_id}XY", expires_at=utcnow() + timedelta(days=1)))
    return class_id


def add_teacher(client, class_id: int, teacher: UserHandle) -> None:
    with unit_of_work(engine_of(client)) as session:
        session.add(ClassMember(class_id=class_id, user_id=user_id(client, teacher), role=ClassRole.TEACHER))


def export(client, user: UserHandle, url: str = "/api/privacy/export") -> zipfile.ZipFile:
    response = client.get(url, headers=user.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith('attachment; filename="digitlab-')
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    assert bundle.testzip() is None  # every entry's CRC is right
    return bundle


def records(bundle: zipfile.ZipFile, table: str) -> list[dict]:
    return json.loads(bundle.read(f"records/{table}.json"))


def delete_account(client, user: UserHandle, password: str = PASSWORD):
    return client.request("DELETE", "/api/privacy/account", headers=user.headers, json={"password": password})


def delete_student(client, teacher: UserHandle, class_id: int, student_id: int, password: str = PASSWORD):
    return client.request("DELETE", f"/api/classes/{class_id}/students/{student_id}/data", headers=teacher.headers,
                          json={"password": password})


def can_log_in(client, username: str) -> bool:
    return client.post("/api/auth/login", json={"username": username, "password": PASSWORD}).status_code == 200


def ids_of(client, student_id: int) -> dict[str, set[int]]:
    """The student's rows, table by table, by the columns this test knows."""
    with unit_of_work(engine_of(client)) as session:
        def ids(query) -> set[int]:
            return set(session.exec(query).all())
        projects = ids(select(Project.id).where(Project.owner_id == student_id))
        scans = ids(select(Scan.id).where(col(Scan.project_id).in_(projects)))
        trainings = ids(select(Training.id).where(Training.owner_id == student_id))
        return {
            "users": {student_id},
            "projects": projects,
            "scans": scans,
            "cells": ids(select(Cell.id).where(col(Cell.project_id).in_(projects))),
            "dataset_imports": ids(select(DatasetImport.id).where(col(DatasetImport.project_id).in_(projects))),
            "jobs": ids(select(Job.id).where(Job.owner_id == student_id)),
            "trainings": trainings,
            "training_events": ids(select(TrainingEvent.id).where(col(TrainingEvent.training_id).in_(trainings))),
            "class_members": ids(select(ClassMember.id).where(ClassMember.user_id == student_id)),
            "auth_tokens": ids(select(AuthToken.id).where(AuthToken.user_id == student_id)),
        }


def rows_left(engine, gone: dict[str, set[int]], nickname: str) -> list[str]:
    """Every row the database still holds that is one of `gone`, points at one of them (by the database's own
    foreign keys), or has the nickname in a text column."""
    found = []
    inspector = inspect(engine)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for name, table in metadata.tables.items():
            if gone.get(name):
                found += [f"{name} {row}" for row in connection.execute(
                    select(table).where(table.c.id.in_(gone[name]))).all()]
            for key in inspector.get_foreign_keys(name):
                wanted = gone.get(key["referred_table"])
                if wanted and key["referred_columns"] == ["id"]:
                    column = table.c[key["constrained_columns"][0]]
                    found += [f"{name}.{column.name} {row}" for row in connection.execute(
                        select(table).where(column.in_(wanted))).all()]
            for column in table.columns:
                if isinstance(column.type, String | Text):
                    found += [f"{name}.{column.name} names {nickname}" for _ in connection.execute(
                        select(table).where(column.contains(nickname))).all()]
    return found


def sqlite_file_mentions(settings, word: str) -> bool:
    """Whether the bytes of the SQLite database (after a checkpoint empties its write-ahead log) contain `word`."""
    path = settings.data_dir / "digitlab.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    return word.encode() in path.read_bytes() or (wal.exists() and word.encode() in wal.read_bytes())


def files_of_projects(settings, project_ids: set[int]) -> set:
    root = settings.files_dir / "projects"
    return {p for pid in project_ids for p in stored_files(root / str(pid))}


# --- the student with one of everything -----------------------------------------------------------------------
NICKNAME = "quokka-7b"


@pytest.fixture
def student_world(client, make_user):
    """A student with an extracted scan, imported samples, a finished training, a second project, a class and an
    API token; a classmate with data of their own, and their teacher."""
    teacher = make_user("ms-lee")  # the first account of an instance is its admin: the teacher here
    student, classmate = make_user(NICKNAME), make_user("wombat-7b")
    project = new_project(client, student, "my digits")
    page = scanpages.png(scanpages.grid_page(seed=11))
    [scan] = upload_files(client, student, project["id"], ("sheet.png", page))
    extraction = wait_for_job(client, student, start_extraction(client, student, project["id"])["id"])
    assert extraction["status"] == "succeeded"
    x, y = digits(5, seed=12)
    import_samples(client, student, project["id"], x, y)
    training = wait_for_training(client, student, start_training(client, student, project["id"], architecture="mlp",
                                                                 epochs=1))
    assert training["status"] == "succeeded", training
    second = new_project(client, student, "letters", labels=list("abcdefghij"))
    upload_files(client, student, second["id"], ("other.png", scanpages.small_png(3)))
    assert client.post("/api/auth/api-tokens", json={"name": "moodle"}, headers=student.headers).status_code == 201
    theirs = new_project(client, classmate, "wombat's")
    upload_files(client, classmate, theirs["id"], ("w.png", scanpages.small_png(4)))
    class_id = make_class(client, "7b", teacher, [student, classmate])
    return {"student": student, "classmate": classmate, "teacher": teacher, "project": project, "second": second,
            "scan": scan, "page": page, "training": training, "class_id": class_id, "classmate_project": theirs}


def test_export_holds_everything_and_after_delete_no_row_and_no_file_is_left(client, settings, student_world):
    w = student_world
    student, project, training = w["student"], w["project"], w["training"]
    student_id = user_id(client, student)
    before = ids_of(client, student_id)
    assert all(before[t] for t in ("projects", "scans", "cells", "jobs", "trainings", "training_events",
                                   "class_members", "auth_tokens", "dataset_imports"))
    their_files = files_of_projects(settings, before["projects"])
    others_files = stored_files(settings.files_dir) - their_files
    assert their_files and others_files

    bundle = export(client, student)
    names = set(bundle.namelist())
    # The account, without secrets; its class with when its data will be deleted.
    account = json.loads(bundle.read("account.json"))
    assert account["account"]["username"] == NICKNAME and "password_hash" not in account["account"]
    assert [(c["class_name"], c["role"], c["writer_number"]) for c in account["classes"]] == [("7b", "student", 1)]
    assert account["classes"][0]["class_data_deleted_after"]
    assert "README.txt" in names
    # Every record, exactly the student's.
    for table, ids in before.items():
        assert {row["id"] for row in records(bundle, table)} == ids, table
    assert all("password_hash" not in row for row in records(bundle, "users"))
    assert all("token_hash" not in row for row in records(bundle, "auth_tokens"))
    assert {r["name"] for r in records(bundle, "projects")} == {"my digits", "letters"}
    assert "epoch" in {r["type"] for r in records(bundle, "training_events")}
    everything = b"".join(bundle.read(name) for name in names)
    with unit_of_work(engine_of(client)) as session:
        tokens = session.exec(select(AuthToken.token_hash).where(AuthToken.user_id == student_id)).all()
        secrets = [session.get(User, student_id).password_hash, *tokens]
    assert not any(secret.encode() in everything for secret in secrets)
    assert b"wombat" not in everything  # nothing of the classmate's
    # Samples as PNGs, one per stored image, as the student sees them (dark ink on white).
    cells = records(bundle, "cells")
    with_image = [c for c in cells if c["image"]]
    assert len(with_image) >= 50 and all(c["image"] == f"samples/cells/{c['id']}.png" for c in with_image)
    sample = decode_png(bundle.read(with_image[0]["image"]))
    assert sample.shape == (28, 28) and sample.dtype == np.uint8 and sample[0, 0] == 255
    # The original scan as uploaded, the page's preview and thumbnail, the trained network.
    base = f"files/projects/{project['id']}"
    assert bundle.read(f"{base}/uploads/{w['scan']['sha256']}.png") == w["page"]
    assert {f"{base}/scans/{w['scan']['id']}/preview.jpg", f"{base}/scans/{w['scan']['id']}/thumbnail.jpg"} <= names
    model = client.get(f"/api/projects/{project['id']}/trainings/{training['id']}/files/model.onnx",
                       headers=student.headers).content
    assert bundle.read(f"{base}/trainings/{training['id']}/model.onnx") == model
    assert f"{base}/trainings/{training['id']}/model.keras" in names
    assert len([n for n in names if n.startswith(f"files/projects/{w['second']['id']}/uploads/")]) == 1

    # Delete: the password again, then nothing of the student is left, and nothing of anyone else is gone.
    assert delete_account(client, student, "not my password").json()["code"] == "wrong_password"
    assert ids_of(client, student_id) == before
    assert delete_account(client, student).status_code == 204
    assert rows_left(engine_of(client), before, NICKNAME) == []
    assert files_of_projects(settings, before["projects"]) == set()
    assert stored_files(settings.files_dir) >= others_files
    if TEST_DATABASE == "sqlite":
        assert not sqlite_file_mentions(settings, NICKNAME), "the nickname is still readable in the database file"
    # The account is gone for good: its tokens, its login, its name is free again.
    assert client.get("/api/auth/me", headers=student.headers).status_code == 401
    assert not can_log_in(client, NICKNAME)
    classmates = client.get(f"/api/projects/{w['classmate_project']['id']}", headers=w["classmate"].headers)
    assert classmates.status_code == 200
    assert client.get(f"/api/classes/{w['class_id']}/students/{student_id}/export",
                      headers=w["teacher"].headers).status_code == 404


def test_a_teacher_exports_a_student_of_their_class_and_nobody_else_can(client, make_user):
    teacher, other_teacher = make_user("mr-hill"), make_user("ms-park")
    student, classmate, outsider = make_user("kiwi"), make_user("emu"), make_user("loner")
    project = new_project(client, student, "kiwi's digits")
    upload_files(client, student, project["id"], ("k.png", scanpages.small_png(7)))
    class_id = make_class(client, "8a", teacher, [student, classmate])
    make_class(client, "8b", other_teacher, [outsider])
    student_id = user_id(client, student)
    url = f"/api/classes/{class_id}/students/{student_id}/export"

    bundle = export(client, teacher, url)
    assert json.loads(bundle.read("account.json"))["account"]["username"] == "kiwi"
    assert [r["name"] for r in records(bundle, "projects")] == ["kiwi's digits"]
    assert export(client, student).namelist() == bundle.namelist()  # what the student gets themselves
    # Another class's teacher, a classmate, the student (it is a teacher's route), an outsider: not found.
    for who in (other_teacher, classmate, student, outsider):
        response = client.get(url, headers=who.headers)
        assert response.status_code == 404 and response.json()["code"] == "not_found", who.username
    # The teacher's own user id is not a student of the class; an unknown class neither.
    assert client.get(f"/api/classes/{class_id}/students/{user_id(client, teacher)}/export",
                      headers=teacher.headers).status_code == 404
    assert client.get(f"/api/classes/{class_id + 99}/students/{student_id}/export",
                      headers=teacher.headers).status_code == 404
    # A removed student is out of reach at once.
    with unit_of_work(engine_of(client)) as session:
        session.delete(session.exec(select(ClassMember).where(ClassMember.user_id == student_id)).one())
    assert client.get(url, headers=teacher.headers).status_code == 404


def test_a_teacher_deletes_an_account_made_for_the_class_but_only_removes_a_self_registered_student(
        client, settings, make_user):
    teacher, other_teacher = make_user("mrs-frost"), make_user("mr-cole")
    carded, registered = make_user("7c-01"), make_user("finch")
    carded_project = new_project(client, carded, "card")
    upload_files(client, carded, carded_project["id"], ("c.png", scanpages.small_png(1)))
    own_project = new_project(client, registered, "mine")
    upload_files(client, registered, own_project["id"], ("f.png", scanpages.small_png(2)))
    class_id = make_class(client, "7c", teacher, [carded, registered], made_for_class=[carded])
    carded_id, registered_id = user_id(client, carded), user_id(client, registered)
    carded_rows = ids_of(client, carded_id)

    # Only the class's teachers, and only with their own password.
    assert delete_student(client, other_teacher, class_id, carded_id).status_code == 404
    assert delete_student(client, registered, class_id, carded_id).status_code == 404
    wrong = delete_student(client, teacher, class_id, carded_id, "not the password")
    assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_password"
    assert can_log_in(client, "7c-01")

    response = delete_student(client, teacher, class_id, carded_id)
    assert response.status_code == 200 and response.json() == {"account_deleted": True}
    assert rows_left(engine_of(client), carded_rows, "7c-01") == []
    assert files_of_projects(settings, carded_rows["projects"]) == set()
    assert not can_log_in(client, "7c-01")

    response = delete_student(client, teacher, class_id, registered_id)
    assert response.status_code == 200 and response.json() == {"account_deleted": False}
    # Out of the class, but their account and own project stay.
    with unit_of_work(engine_of(client)) as session:
        assert session.exec(select(ClassMember).where(ClassMember.user_id == registered_id)).all() == []
    assert client.get(f"/api/projects/{own_project['id']}/scans", headers=registered.headers).json()[0]["filename"] \
        == "f.png"
    assert can_log_in(client, "finch")
    # Gone from the class: the teacher can neither read nor delete anything of theirs any more.
    assert client.get(f"/api/projects/{own_project['id']}", headers=teacher.headers).status_code == 404
    assert delete_student(client, teacher, class_id, registered_id).status_code == 404


def test_the_only_teacher_of_a_class_cannot_delete_their_account(client, make_user):
    teacher, colleague, student = make_user("mr-only"), make_user("ms-also"), make_user("robin")
    class_id = make_class(client, "9a", teacher, [student])
    response = delete_account(client, teacher)
    assert response.status_code == 409 and response.json()["code"] == "only_teacher"
    assert "9a" in response.json()["detail"]
    add_teacher(client, class_id, colleague)
    assert delete_account(client, teacher).status_code == 204
    assert not can_log_in(client, "mr-only")
    # The class and its student are untouched.
    with unit_of_work(engine_of(client)) as session:
        assert session.get(SchoolClass, class_id) is not None
        members = session.exec(select(ClassMember.role).where(ClassMember.class_id == class_id)).all()
        assert sorted(members) == ["student", "teacher"]


def test_deleting_needs_a_password_and_a_sane_body(client, alice):
    for body in ({}, {"password": 5}, {"password": PASSWORD, "extra": 1}, {"password": "x" * 300}):
        response = client.request("DELETE", "/api/privacy/account", headers=alice.headers, json=body)
        assert response.status_code == 422, body
    assert client.get("/api/auth/me", headers=alice.headers).status_code == 200


def put_in_class_data(client, class_id: int, students: list[UserHandle]) -> None:
    """The class data set with three samples of each student, and a challenge made of the last student's sheet
    (rows written as the class data set and challenge services write them)."""
    with unit_of_work(engine_of(client)) as session:
        dataset = ClassDataset(class_id=class_id, labels=list("0123456789"), selection={}, skipped=[])
        challenge = Challenge(class_id=class_id, labels=list("0123456789"))
        session.add_all([dataset, challenge])
        session.flush()
        for student in students:
            member = session.exec(select(ClassMember).where(ClassMember.class_id == class_id,
                                                            ClassMember.user_id == user_id(client, student))).one()
            project = session.exec(select(Project).where(Project.owner_id == member.user_id)).first()
            for cell in session.exec(select(Cell).where(Cell.project_id == project.id).limit(3)).all():
                session.add(ClassSample(dataset_id=dataset.id, member_id=member.id, writer_number=member.writer_number,
                                        project_id=project.id, cell_id=cell.id, label=cell.label, image=cell.image))
        scan = session.exec(select(Scan).where(Scan.project_id == project.id)).first()
        session.add(ChallengeSheet(challenge_id=challenge.id, scan_id=scan.id))
        session.add(ChallengeSample(challenge_id=challenge.id, scan_id=scan.id, label="3", image=bytes(784)))


def class_samples_of(client, student_id: int) -> tuple[int, int]:
    """(the student's samples in class data sets, their sheets' samples in challenges)."""
    with unit_of_work(engine_of(client)) as session:
        in_dataset = session.exec(select(ClassSample).join(Project, col(Project.id) == ClassSample.project_id)
                                  .where(Project.owner_id == student_id)).all()
        in_challenge = session.exec(select(ChallengeSample).join(Scan, col(Scan.id) == ChallengeSample.scan_id)
                                    .join(Project, col(Project.id) == Scan.project_id)
                                    .where(Project.owner_id == student_id)).all()
        return len(in_dataset), len(in_challenge)


def test_a_students_samples_leave_the_class_data_set_and_challenge_with_them(client, make_user):
    teacher = make_user("mr-wren")
    carded, registered, leaving = make_user("3b-01"), make_user("lark"), make_user("swift")
    for user in (carded, registered, leaving):
        project = new_project(client, user, f"{user.username}'s")
        upload_files(client, user, project["id"], ("s.png", scanpages.small_png(len(user.username))))
        response = client.post(f"/api/projects/{project['id']}/dataset/import", headers=user.headers,
                               files={"file": ("m.npz", mnist_npz([0, 1, 2, 3]), "application/x")})
        assert response.status_code == 201, response.text
    class_id = make_class(client, "3b", teacher, [carded, leaving, registered], made_for_class=[carded])
    put_in_class_data(client, class_id, [carded, leaving, registered])
    ids = {user.username: user_id(client, user) for user in (carded, registered, leaving)}
    assert [class_samples_of(client, ids[name]) for name in ("3b-01", "swift", "lark")] == [(3, 0), (3, 0), (3, 1)]

    # A self-registered student removed with their class data: out of the data set and the challenge, but their
    # own samples and sheet stay theirs.
    assert delete_student(client, teacher, class_id, ids["lark"]).json() == {"account_deleted": False}
    assert class_samples_of(client, ids["lark"]) == (0, 0)
    with unit_of_work(engine_of(client)) as session:
        assert session.exec(select(ChallengeSheet)).all() == []
        assert len(session.exec(select(Cell).join(Project).where(Project.owner_id == ids["lark"])).all()) == 4
    # A student deleting their own account, and an account made for the class deleted by the teacher.
    assert delete_account(client, leaving).status_code == 204
    assert class_samples_of(client, ids["swift"]) == (0, 0)
    assert delete_student(client, teacher, class_id, ids["3b-01"]).json() == {"account_deleted": True}
    with unit_of_work(engine_of(client)) as session:
        assert session.exec(select(ClassSample)).all() == []
        assert session.get(SchoolClass, class_id) is not None  # the class itself stays, with its teacher


# --- retention ------------------------------------------------------------------------------------------------
def test_the_retention_sweep_deletes_an_expired_class_with_the_accounts_made_for_it(client, settings, make_user):
    teacher = make_user("mr-bloom")
    carded, registered, elsewhere = make_user("6d-01"), make_user("heron"), make_user("stork")
    projects = {user.username: new_project(client, user, user.username) for user in (carded, registered, elsewhere)}
    for user in (carded, registered, elsewhere):
        upload_files(client, user, projects[user.username]["id"], ("p.png", scanpages.small_png(len(user.username))))
    expired = make_class(client, "6d", teacher, [carded, registered], made_for_class=[carded],
                         delete_after=utcnow() - timedelta(minutes=1))
    current = make_class(client, "6e", teacher, [elsewhere])
    carded_rows = ids_of(client, user_id(client, carded))

    report = retention.sweep(engine_of(client), client.app.state.storage, client.app.state.runner)
    assert report.classes == 1
    with unit_of_work(engine_of(client)) as session:
        assert session.get(SchoolClass, expired) is None and session.get(SchoolClass, current) is not None
        assert session.exec(select(JoinCode).where(JoinCode.class_id == expired)).all() == []
        assert session.exec(select(ClassMember).where(ClassMember.class_id == expired)).all() == []
    assert rows_left(engine_of(client), carded_rows, "6d-01") == []
    assert files_of_projects(settings, carded_rows["projects"]) == set()
    # A student who registered themselves keeps their account and project; the other class is untouched.
    assert client.get(f"/api/projects/{projects['heron']['id']}/scans", headers=registered.headers).json()
    assert can_log_in(client, "heron") and can_log_in(client, "mr-bloom")
    assert client.get(f"/api/classes/{current}/students/{user_id(client, elsewhere)}/export",
                      headers=teacher.headers).status_code == 200
    assert retention.sweep(engine_of(client), client.app.state.storage, client.app.state.runner).classes == 0


@pytest.mark.parametrize("job_backend", ["local", pytest.param("celery", marks=pytest.mark.scaleout)])
def test_the_running_service_deletes_an_expired_class_by_itself(tmp_path, job_backend):
    """With either job backend the API process sweeps (Celery's workers run jobs only; none is needed here)."""
    celery = {"celery_broker_url": local_redis(), "celery_queue": f"digitlab-privacy-{secrets.token_hex(4)}"} \
        if job_backend == "celery" else {}
    settings = make_settings(tmp_path / "data", retention_sweep_seconds=0.2, job_backend=job_backend, **celery)
    with TestClient(create_app(settings)) as client:
        teacher, carded = new_user(client, "ms-gale"), new_user(client, "5a-01")
        project = new_project(client, carded, "cards")
        upload_files(client, carded, project["id"], ("c.png", scanpages.small_png(5)))
        class_id = make_class(client, "5a", teacher, [carded], made_for_class=[carded])
        time.sleep(0.5)  # a few sweeps: the class is not due yet
        assert can_log_in(client, "5a-01")
        with unit_of_work(engine_of(client)) as session:
            session.get(SchoolClass, class_id).delete_after = utcnow() - timedelta(seconds=1)

        def class_exists() -> bool:
            with unit_of_work(engine_of(client)) as session:
                return session.get(SchoolClass, class_id) is not None

        wait_until(class_exists, lambda exists: not exists, 30, "the expired class deleted by the service")
        assert not can_log_in(client, "5a-01")
        assert stored_files(settings.files_dir / "projects" / str(project["id"])) == set()
        assert can_log_in(client, "ms-gale")


def test_the_sweep_drops_ended_tokens_and_files_left_by_deleted_projects(client, settings, alice):
    api_token = client.post("/api/auth/api-tokens", json={"name": "old"}, headers=alice.headers).json()
    assert client.delete(f"/api/auth/api-tokens/{api_token['id']}", headers=alice.headers).status_code == 204
    other_session = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD}).json()
    assert client.post("/api/auth/logout", headers={"Authorization": f"Bearer {other_session['access_token']}"}
                       ).status_code == 204
    project = new_project(client, alice, "kept")
    upload_files(client, alice, project["id"], ("k.png", scanpages.small_png(8)))
    leftover = settings.files_dir / "projects" / "999999" / "trainings" / "1"
    leftover.mkdir(parents=True)
    (leftover / "model.onnx").write_bytes(b"written by a job after its project was deleted")
    old = time.time() - 2 * retention.LEFTOVER_AGE_SECONDS
    os.utime(leftover.parents[1], (old, old))

    report = retention.sweep(engine_of(client), client.app.state.storage, client.app.state.runner)
    assert report.tokens == 2 and report.leftover_folders == 1
    with unit_of_work(engine_of(client)) as session:
        assert [t.kind for t in session.exec(select(AuthToken)).all()] == ["session"]  # the one in use
    assert client.get("/api/auth/me", headers=alice.headers).status_code == 200
    assert not leftover.exists()
    assert stored_files(settings.files_dir / "projects" / str(project["id"]))  # a live project's files stay


# --- export: bounded memory, limits, a full disk --------------------------------------------------------------
def test_an_export_streams_large_files_with_bounded_memory(client, settings, alice):
    project = new_project(client, alice, "big")
    big = np.random.default_rng(0).integers(0, 256, 40 * MB, dtype=np.uint8).tobytes()
    folder = settings.files_dir / "projects" / str(project["id"]) / "trainings" / "1"
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(big)
    chunks = archive.export_archive(engine_of(client), client.app.state.storage, user_id(client, alice))
    out = io.BytesIO()
    tracemalloc.start()
    try:
        largest = 0
        for chunk in chunks:
            largest = max(largest, len(chunk))
            out.write(chunk)
            del chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The bytes written to `out` are traced too: the export's own share is what the peak holds beyond them.
    assert largest <= 2 * MB, largest
    assert peak - out.tell() < 8 * MB, f"peak {peak / MB:.1f} MB for a {len(big) / MB:.0f} MB file"
    bundle = zipfile.ZipFile(out)
    name = f"files/projects/{project['id']}/trainings/1/model.keras"
    assert hashlib.sha256(bundle.read(name)).digest() == hashlib.sha256(big).digest()


def test_exports_are_limited_per_student(tmp_path):
    settings = make_settings(tmp_path / "data", export_limits="2/minute")
    with TestClient(create_app(settings, run_jobs=False)) as client:
        teacher, student = new_user(client, "mr-fox"), new_user(client, "hare")
        class_id = make_class(client, "4a", teacher, [student])
        assert client.get("/api/privacy/export", headers=student.headers).status_code == 200
        url = f"/api/classes/{class_id}/students/{user_id(client, student)}/export"
        assert client.get(url, headers=teacher.headers).status_code == 200
        for who, target in ((student, "/api/privacy/export"), (teacher, url)):
            response = client.get(target, headers=who.headers)
            assert response.status_code == 429 and response.json()["code"] == "too_many_exports"
            assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert client.get("/api/privacy/export", headers=teacher.headers).status_code == 200  # counts per student


def test_export_and_delete_work_on_a_full_disk(tiny_disk):  # noqa: F811
    settings = make_settings(tiny_disk / "data", disk_reserve_bytes=2 * MB, min_free_disk_bytes=4 * MB,
                             database_url="")
    with TestClient(create_app(settings, run_jobs=False)) as client:
        user = new_user(client, "owl")
        for i in range(2):
            project = new_project(client, user, f"p{i}")
            upload_files(client, user, project["id"], ("a.png", scanpages.small_png(i)))
            response = client.post(f"/api/projects/{project['id']}/dataset/import", headers=user.headers,
                                   files={"file": ("m.npz", mnist_npz(list(range(10)) * 30), "application/x")})
            assert response.status_code == 201
        filler = fill_disk(tiny_disk)
        try:
            bundle = export(client, user)
            assert len(records(bundle, "cells")) == 600
            assert delete_account(client, user).status_code == 204
            assert not can_log_in(client, "owl")
            assert stored_files(settings.files_dir / "projects") == set()
        finally:
            filler.unlink()
