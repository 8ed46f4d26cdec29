"""Roles, teacher invitations, classes, co-teachers, join codes and joining, as teachers and students use them."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from digitlab.classes.tables import TeacherInvite
from digitlab.core import codes
from digitlab.core.db import unit_of_work
from digitlab.main import create_app
from tests.api.classroom import (
    account,
    cards,
    expire_join_code,
    join,
    join_code,
    log_in,
    members,
    new_class,
    register,
    student,
    teacher,
    teacher_invite,
)
from tests.api.helpers import new_project, stored_files, upload_files
from tests.api.scanpages import small_png
from tests.conftest import PASSWORD, UserHandle, make_settings


@pytest.fixture
def client(tmp_path):
    # No job runner: nothing here runs jobs, and every test starts a fresh instance (its first account is admin).
    with TestClient(create_app(make_settings(tmp_path / "data"), run_jobs=False)) as test_client:
        yield test_client


@pytest.fixture
def admin(client) -> UserHandle:
    return account(client, "root")


@pytest.fixture
def mrs_k(client, admin) -> UserHandle:
    return teacher(client, admin, "mrs.k")


def me(client, user: UserHandle) -> dict:
    response = client.get("/api/auth/me", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --- roles and teacher invitations ----------------------------------------------------------------------------
def test_the_first_account_of_an_instance_is_its_admin_and_later_ones_students(client):
    assert register(client, "root").json()["role"] == "admin"
    assert register(client, "mia").json()["role"] == "student"
    assert me(client, log_in(client, "root"))["role"] == "admin"
    assert me(client, log_in(client, "mia"))["role"] == "student"


def test_registering_with_a_teacher_invitation_makes_a_teacher_once(client, admin):
    invite = teacher_invite(client, admin, valid_days=3)
    assert codes.normalize(invite["code"], 16) and len(invite["code"]) == 19  # ABCD-EFGH-JKMN-PQRS
    assert invite["link"] == f"/#/teacher-invite/{invite['code']}"
    assert invite["status"] == "active" and invite["created_by"] == "root" and invite["used_by"] is None
    assert timedelta(days=2, hours=23) < when(invite["expires_at"]) - datetime.now(UTC) <= timedelta(days=3)

    typed = invite["code"].lower().replace("-", " ")  # case, dashes and spaces do not matter
    registered = register(client, "mrs.k", invite_code=typed)
    assert registered.status_code == 201, registered.text
    assert registered.json()["role"] == "teacher"
    again = register(client, "mr.x", invite_code=invite["code"])
    assert again.status_code == 422 and again.json()["code"] == "invite_used"
    assert client.post("/api/auth/login", json={"username": "mr.x", "password": PASSWORD}).status_code == 401

    [listed] = client.get("/api/admin/teacher-invites", headers=admin.headers).json()
    assert listed["status"] == "used" and listed["used_by"] == "mrs.k" and "code" not in listed


def test_a_wrong_invitation_makes_no_account(client, admin):
    for code, reason in [("ABCD-EFGH-JKMN-PQRS", "invite_unknown"), ("not a code at all", "invite_unknown")]:
        response = register(client, "mr.x", invite_code=code)
        assert response.status_code == 422 and response.json()["code"] == reason
    assert register(client, "mr.x").json()["role"] == "student"  # the name was still free


def test_a_student_redeems_an_invitation_while_logged_in(client, admin):
    mia = account(client, "mia")
    invite = teacher_invite(client, admin)
    redeemed = client.post("/api/auth/teacher-invite", json={"code": invite["code"]}, headers=mia.headers)
    assert redeemed.status_code == 200 and redeemed.json()["role"] == "teacher"
    assert me(client, mia)["role"] == "teacher"
    # A teacher (or admin) gets a clear no, and the invitation stays usable.
    other = teacher_invite(client, admin)
    for user in (mia, admin):
        refused = client.post("/api/auth/teacher-invite", json={"code": other["code"]}, headers=user.headers)
        assert refused.status_code == 409 and refused.json()["code"] == "already_teacher"
    assert register(client, "mr.x", invite_code=other["code"]).json()["role"] == "teacher"


def test_invitations_expire_and_can_be_revoked(client, admin):
    revoked, expired = teacher_invite(client, admin), teacher_invite(client, admin)
    assert client.delete(f"/api/admin/teacher-invites/{revoked['id']}", headers=admin.headers).status_code == 204
    with unit_of_work(client.app.state.engine) as session:
        session.exec(update(TeacherInvite).where(TeacherInvite.id == expired["id"])
                     .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    for invite, reason in [(revoked, "invite_revoked"), (expired, "invite_expired")]:
        response = register(client, "mr.x", invite_code=invite["code"])
        assert response.status_code == 422 and response.json()["code"] == reason, response.text
    statuses = {i["id"]: i["status"] for i in client.get("/api/admin/teacher-invites", headers=admin.headers).json()}
    assert statuses == {revoked["id"]: "revoked", expired["id"]: "expired"}
    # A used invitation cannot be revoked any more.
    used = teacher_invite(client, admin)
    register(client, "mr.y", invite_code=used["code"])
    conflict = client.delete(f"/api/admin/teacher-invites/{used['id']}", headers=admin.headers)
    assert conflict.status_code == 409 and conflict.json()["code"] == "invite_used"


def test_only_admins_invite_teachers(client, admin, mrs_k):
    mia = account(client, "mia")
    invite = teacher_invite(client, admin)
    for user in (mia, mrs_k):
        made = client.post("/api/admin/teacher-invites", json={}, headers=user.headers)
        assert made.status_code == 403 and made.json()["code"] == "admins_only"
        listed = client.get("/api/admin/teacher-invites", headers=user.headers)
        assert listed.status_code == 403 and listed.json()["code"] == "admins_only"
        revoke = client.delete(f"/api/admin/teacher-invites/{invite['id']}", headers=user.headers)
        assert revoke.status_code == 404
    assert client.get("/api/admin/teacher-invites", headers=admin.headers).json()[0]["status"] == "active"


# --- classes --------------------------------------------------------------------------------------------------
def test_a_teacher_makes_a_class_and_manages_it(client, mrs_k):
    school_class = new_class(client, mrs_k, "  7b maths  ")
    assert school_class["name"] == "7b maths" and school_class["role"] == "teacher"
    assert school_class["closed"] is False and school_class["writer_number"] is None
    details = school_class["details"]
    assert details["teachers"] == ["mrs.k"] and details["student_count"] == 0 and details["closed_at"] is None
    kept = when(details["delete_after"]) - when(details["created_at"])
    assert timedelta(days=364, hours=23) < kept <= timedelta(days=365)

    url = f"/api/classes/{school_class['id']}"
    changed = client.patch(url, json={"name": "7b", "retention_days": 30}, headers=mrs_k.headers).json()
    assert changed["name"] == "7b"
    left = when(changed["details"]["delete_after"]) - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
    too_long = client.patch(url, json={"retention_days": 731}, headers=mrs_k.headers)
    assert too_long.status_code == 422 and too_long.json()["code"] == "invalid_retention"
    assert client.get(url, headers=mrs_k.headers).json() == changed  # nothing changed

    closed = client.patch(url, json={"closed": True}, headers=mrs_k.headers).json()
    assert closed["closed"] is True and closed["details"]["closed_at"]
    reopened = client.patch(url, json={"closed": False}, headers=mrs_k.headers).json()
    assert reopened["closed"] is False and reopened["details"]["closed_at"] is None

    listed = client.get("/api/classes", headers=mrs_k.headers).json()
    assert [(c["id"], c["role"]) for c in listed] == [(school_class["id"], "teacher")]
    assert client.delete(url, headers=mrs_k.headers).status_code == 204
    assert client.get(url, headers=mrs_k.headers).status_code == 404
    assert client.get("/api/classes", headers=mrs_k.headers).json() == []


def test_students_cannot_make_classes(client, admin):
    mia = account(client, "mia")
    refused = client.post("/api/classes", json={"name": "mine"}, headers=mia.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "teachers_only"
    assert new_class(client, admin, "the admin's own")["role"] == "teacher"  # an admin is also a teacher


def test_bad_class_input_is_refused(client, mrs_k):
    for body in [{}, {"name": "   "}, {"name": "x" * 101}, {"name": "a", "retention_days": 0},
                 {"name": "a", "retention_days": "30"}, {"name": "a", "owner": "mia"}]:
        response = client.post("/api/classes", json=body, headers=mrs_k.headers)
        assert response.status_code == 422, body
    assert client.get("/api/classes", headers=mrs_k.headers).json() == []


# --- join codes and joining -----------------------------------------------------------------------------------
def test_join_codes_are_short_readable_and_typed_any_way(client, mrs_k):
    school_class = new_class(client, mrs_k)
    first = join_code(client, mrs_k, school_class["id"])
    second = join_code(client, mrs_k, school_class["id"], valid_days=1)
    for code in (first, second):
        plain = code["code"].replace("-", "")
        assert len(code["code"]) == 9 and code["code"][4] == "-" and len(plain) == 8
        assert set(plain) <= set("23456789ABCDEFGHJKMNPQRSTVWXYZ")  # no 0/O, 1/I/L
        assert code["link"] == f"/#/join/{code['code']}" and code["status"] == "active"
    assert first["code"] != second["code"]
    assert timedelta(days=13, hours=23) < when(first["expires_at"]) - datetime.now(UTC) <= timedelta(days=14)
    assert when(second["expires_at"]) - datetime.now(UTC) <= timedelta(days=1)
    listed = client.get(f"/api/classes/{school_class['id']}/join-codes", headers=mrs_k.headers).json()
    assert [c["id"] for c in listed] == [second["id"], first["id"]]  # newest first

    code = first["code"]
    for typed in (code, code.lower(), code.replace("-", ""), f"  {code[:4]} {code[5:].lower()} "):
        looked_up = client.post("/api/join/lookup", json={"code": typed})
        assert looked_up.status_code == 200, (typed, looked_up.text)
        assert looked_up.json()["class_name"] == "7b"
    too_long = client.post(f"/api/classes/{school_class['id']}/join-codes", json={"valid_days": 181},
                           headers=mrs_k.headers)
    assert too_long.status_code == 422 and too_long.json()["code"] == "invalid_days"


def test_the_qr_code_is_an_svg_of_the_join_link(client, mrs_k):
    school_class = new_class(client, mrs_k)
    code = join_code(client, mrs_k, school_class["id"])
    response = client.get(code["qr_svg_url"], headers=mrs_k.headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    svg = ET.fromstring(response.content)
    assert svg.tag.endswith("svg")
    title = next(element.text for element in svg.iter() if element.tag.endswith("title"))
    assert title == f"http://testserver/#/join/{code['code']}"  # the app's address: where the request came to


def test_students_join_with_a_code_and_get_writer_numbers_in_order(client, mrs_k):
    school_class = new_class(client, mrs_k)
    code = join_code(client, mrs_k, school_class["id"])["code"]
    joined = join(client, code.lower(), "fox")
    assert joined.status_code == 201, joined.text
    body = joined.json()
    assert body["user"]["role"] == "student" and body["password_change_required"] is False
    assert body["joined_class"] == {"id": school_class["id"], "name": "7b", "role": "student", "writer_number": 1,
                                    "closed": False, "details": None}
    fox = UserHandle("fox", body["access_token"])
    assert me(client, fox)["username"] == "fox"  # logged in at once
    owl, bee = student(client, code, "owl"), student(client, code, "bee")
    numbers = {m["username"]: m["writer_number"] for m in members(client, mrs_k, school_class["id"])}
    assert numbers == {"mrs.k": None, "fox": 1, "owl": 2, "bee": 3}

    # A number once given is never given again in this class, even when its student has gone.
    owl_id = me(client, owl)["id"]
    removed = client.delete(f"/api/classes/{school_class['id']}/members/{owl_id}", headers=mrs_k.headers)
    assert removed.status_code == 204
    student(client, code, "ant")
    rejoined = client.post("/api/classes/join", json={"code": code}, headers=owl.headers)  # owl comes back
    assert rejoined.status_code == 201 and rejoined.json()["writer_number"] == 5
    numbers = {m["username"]: m["writer_number"] for m in members(client, mrs_k, school_class["id"])}
    assert numbers == {"mrs.k": None, "fox": 1, "bee": 3, "ant": 4, "owl": 5}
    assert me(client, bee)["username"] == "bee"


def test_joining_refuses_clearly_and_makes_nothing(client, mrs_k):
    school_class = new_class(client, mrs_k)
    url = f"/api/classes/{school_class['id']}"
    revoked, expired, good = (join_code(client, mrs_k, school_class["id"]) for _ in range(3))
    assert client.delete(f"{url}/join-codes/{revoked['id']}", headers=mrs_k.headers).status_code == 204
    expire_join_code(client, expired["id"])
    cases = [(revoked["code"], 422, "join_code_revoked"), (expired["code"], 422, "join_code_expired"),
             ("ABCD-EFGH", 422, "join_code_unknown"), ("0O1I-LLLL", 422, "join_code_unknown")]
    for code, status, reason in cases:
        response = join(client, code, "fox")
        assert response.status_code == status and response.json()["code"] == reason, (code, response.text)
        assert response.json()["detail"]
    weak = join(client, good["code"], "fox", "12345678")
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    client.patch(url, json={"closed": True}, headers=mrs_k.headers)
    closed = join(client, good["code"], "fox")
    assert closed.status_code == 409 and closed.json()["code"] == "class_closed"
    refused = client.post(f"{url}/join-codes", json={}, headers=mrs_k.headers)
    assert refused.status_code == 409 and refused.json()["code"] == "class_closed"
    assert client.post("/api/auth/login", json={"username": "fox", "password": PASSWORD}).status_code == 401
    assert [m["username"] for m in members(client, mrs_k, school_class["id"])] == ["mrs.k"]
    statuses = {c["id"]: c["status"] for c in client.get(f"{url}/join-codes", headers=mrs_k.headers).json()}
    assert statuses == {revoked["id"]: "revoked", expired["id"]: "expired", good["id"]: "active"}
    # Reopened, the same code works again; a taken nickname is a conflict.
    client.patch(url, json={"closed": False}, headers=mrs_k.headers)
    assert join(client, good["code"], "fox").status_code == 201
    taken = join(client, good["code"], "FOX")
    assert taken.status_code == 409 and taken.json()["code"] == "username_taken"


def test_a_student_can_be_in_several_classes_and_keeps_own_projects(client, admin, mrs_k):
    first = new_class(client, mrs_k, "7b")
    second = new_class(client, admin, "robotics club")
    mia = student(client, join_code(client, mrs_k, first["id"])["code"], "mia")
    project = new_project(client, mia, "my digits")
    code = join_code(client, admin, second["id"])["code"]
    joined = client.post("/api/classes/join", json={"code": code}, headers=mia.headers)
    assert joined.status_code == 201 and joined.json()["writer_number"] == 1 and joined.json()["details"] is None
    again = client.post("/api/classes/join", json={"code": code}, headers=mia.headers)
    assert again.status_code == 409 and again.json()["code"] == "already_member"
    mine = client.get("/api/classes", headers=mia.headers).json()
    assert [(c["name"], c["role"], c["writer_number"]) for c in mine] == [("7b", "student", 1),
                                                                          ("robotics club", "student", 1)]
    assert [p["id"] for p in client.get("/api/projects", headers=mia.headers).json()] == [project["id"]]


def test_students_see_only_the_class_name_and_their_own_number(client, mrs_k):
    school_class = new_class(client, mrs_k)
    code = join_code(client, mrs_k, school_class["id"])["code"]
    mia, ben = student(client, code, "mia"), student(client, code, "ben")
    url = f"/api/classes/{school_class['id']}"
    seen = client.get(url, headers=ben.headers).json()
    assert seen == {"id": school_class["id"], "name": "7b", "role": "student", "writer_number": 2, "closed": False,
                    "details": None}
    assert "mia" not in client.get(url, headers=ben.headers).text
    mia_id = me(client, mia)["id"]
    for method, path in [("GET", "/members"), ("GET", "/join-codes"), ("DELETE", f"/members/{mia_id}"),
                         ("DELETE", ""), ("PATCH", "")]:
        body = {"name": "x"} if method == "PATCH" else None
        response = client.request(method, url + path, headers=ben.headers, json=body)
        assert response.status_code == 404, (method, path)
    assert [m["username"] for m in members(client, mrs_k, school_class["id"])] == ["mrs.k", "mia", "ben"]


# --- co-teachers, removing and leaving ------------------------------------------------------------------------
def test_co_teachers_manage_the_class_alike(client, admin, mrs_k):
    mr_o = teacher(client, admin, "Mr.O")
    school_class = new_class(client, mrs_k)
    url = f"/api/classes/{school_class['id']}"
    mia = student(client, join_code(client, mrs_k, school_class["id"])["code"], "mia")
    assert client.get(url, headers=mr_o.headers).status_code == 404  # not yet his class
    for name, reason, status in [("mia", "unknown_teacher", 422), ("nobody", "unknown_teacher", 422),
                                 ("mrs.k", "already_member", 409)]:
        refused = client.post(f"{url}/teachers", json={"username": name}, headers=mrs_k.headers)
        assert refused.status_code == status and refused.json()["code"] == reason, name
    added = client.post(f"{url}/teachers", json={"username": "mr.o"}, headers=mrs_k.headers)  # any case
    assert added.status_code == 201 and added.json()["username"] == "Mr.O" and added.json()["role"] == "teacher"

    assert client.get(url, headers=mr_o.headers).json()["details"]["teachers"] == ["mrs.k", "Mr.O"]
    assert [m["username"] for m in members(client, mr_o, school_class["id"])] == ["mrs.k", "Mr.O", "mia"]
    code = join_code(client, mr_o, school_class["id"])
    assert code["code"] in {c["code"] for c in client.get(f"{url}/join-codes", headers=mrs_k.headers).json()}
    # Either may remove the other, but the class keeps one teacher.
    mrs_k_id = me(client, mrs_k)["id"]
    assert client.delete(f"{url}/members/{mrs_k_id}", headers=mr_o.headers).status_code == 204
    assert client.get(url, headers=mrs_k.headers).status_code == 404
    last = client.post(f"{url}/leave", headers=mr_o.headers)
    assert last.status_code == 409 and last.json()["code"] == "last_teacher"
    mr_o_id = me(client, mr_o)["id"]
    last = client.delete(f"{url}/members/{mr_o_id}", headers=mr_o.headers)
    assert last.status_code == 409 and last.json()["code"] == "last_teacher"
    assert client.get(url, headers=mia.headers).status_code == 200


def test_removing_a_student_keeps_their_own_account_and_projects(client, mrs_k):
    school_class = new_class(client, mrs_k)
    mia = student(client, join_code(client, mrs_k, school_class["id"])["code"], "mia")
    project = new_project(client, mia)
    upload_files(client, mia, project["id"], ("page.png", small_png(3)))
    url = f"/api/classes/{school_class['id']}"
    assert client.delete(f"{url}/members/{me(client, mia)['id']}", headers=mrs_k.headers).status_code == 204
    assert client.get(url, headers=mia.headers).status_code == 404
    assert client.get("/api/classes", headers=mia.headers).json() == []
    assert client.get(f"/api/projects/{project['id']}/scans", headers=mia.headers).json()[0]["filename"] == "page.png"
    gone = client.delete(f"{url}/members/{me(client, mia)['id']}", headers=mrs_k.headers)
    assert gone.status_code == 404


def test_a_student_leaves_a_class(client, mrs_k):
    school_class = new_class(client, mrs_k)
    mia = student(client, join_code(client, mrs_k, school_class["id"])["code"], "mia")
    url = f"/api/classes/{school_class['id']}"
    assert client.post(f"{url}/leave", headers=mia.headers).status_code == 204
    assert client.get(url, headers=mia.headers).status_code == 404
    assert client.post(f"{url}/leave", headers=mia.headers).status_code == 404
    assert [m["username"] for m in members(client, mrs_k, school_class["id"])] == ["mrs.k"]
    assert me(client, mia)["username"] == "mia"


def test_deleting_a_class_deletes_only_the_accounts_made_for_it(client, admin, mrs_k, tmp_path):
    school_class = new_class(client, mrs_k)
    other_class = new_class(client, admin, "club")
    url = f"/api/classes/{school_class['id']}"
    mia = student(client, join_code(client, mrs_k, school_class["id"])["code"], "mia")
    made = client.post(f"{url}/students", json={"usernames": ["card1", "card2"]}, headers=mrs_k.headers)
    assert made.status_code == 201
    for name, one_time in cards(made.content, ["card1", "card2"]).items():  # they choose their own passwords
        changed = client.post("/api/auth/password", json={"current_password": one_time, "new_password": PASSWORD},
                              headers=log_in(client, name, one_time).headers)
        assert changed.status_code == 204, changed.text
    card1, card2 = log_in(client, "card1"), log_in(client, "card2")
    # card2 also joined another class: there it is a student like any other, so its account stays.
    client.post("/api/classes/join", json={"code": join_code(client, admin, other_class["id"])["code"]},
                headers=card2.headers)
    projects = {}
    for user in (mia, card1, card2):
        projects[user.username] = new_project(client, user)
        upload_files(client, user, projects[user.username]["id"], (f"{user.username}.png", small_png(7)))
    files = tmp_path / "data" / "files" / "projects"
    assert {p.name for p in files.iterdir()} == {str(p["id"]) for p in projects.values()}
    # The class's own files (e.g. pages of a bulk scan not yet assigned) live in its folder.
    class_files = tmp_path / "data" / "files" / "classes" / str(school_class["id"])
    client.app.state.storage.write(f"classes/{school_class['id']}/unassigned/1/page.png", small_png(8))

    assert client.delete(url, headers=mrs_k.headers).status_code == 204
    assert client.get(url, headers=mrs_k.headers).status_code == 404
    assert client.post("/api/auth/login", json={"username": "card1", "password": PASSWORD}).status_code == 401
    assert client.get("/api/auth/me", headers=card1.headers).status_code == 401
    assert not stored_files(files / str(projects["card1"]["id"])) and not stored_files(class_files)
    for user in (mia, card2):  # their accounts, projects and files stay
        assert client.get(f"/api/projects/{projects[user.username]['id']}", headers=user.headers).status_code == 200
        assert stored_files(files / str(projects[user.username]["id"]))
    assert [c["name"] for c in client.get("/api/classes", headers=card2.headers).json()] == ["club"]
    assert client.get("/api/classes", headers=mia.headers).json() == []


# --- brute force ----------------------------------------------------------------------------------------------
def test_wrong_join_codes_are_limited_per_address(tmp_path):
    settings = make_settings(tmp_path / "data", join_code_ip_limits="3/minute")
    with TestClient(create_app(settings, run_jobs=False)) as client:
        admin = account(client, "root")
        school_class = new_class(client, admin)
        good, expired = join_code(client, admin, school_class["id"]), join_code(client, admin, school_class["id"])
        expire_join_code(client, expired["id"])
        for _ in range(3):  # an expired code does not count: a class typing an old code must not lock itself out
            assert join(client, expired["code"], "fox").json()["code"] == "join_code_expired"
        for guess in ("AAAA-AAAA", "AAAA-AAAB", "AAAA-AAAC"):
            assert join(client, guess, "fox").json()["code"] == "join_code_unknown"
        for attempt in (lambda: join(client, "AAAA-AAAD", "fox"), lambda: join(client, good["code"], "fox"),
                        lambda: client.post("/api/join/lookup", json={"code": good["code"]}),
                        lambda: client.post("/api/classes/join", json={"code": good["code"]}, headers=admin.headers)):
            limited = attempt()
            assert limited.status_code == 429 and limited.json()["code"] == "too_many_attempts"
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert [m["username"] for m in members(client, admin, school_class["id"])] == ["root"]


def test_codes_are_normalised_or_refused():
    assert codes.normalize("abcd-efgh", 8) == "ABCDEFGH"
    assert codes.normalize(" AbCd EfGh ", 8) == "ABCDEFGH"
    assert codes.normalize("ABCD\u2013EFGH", 8) == "ABCDEFGH"  # an en dash from a word processor
    for wrong in ("ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFG0", "ABCD-EFGI", "ABCD_EFGH", ""):
        assert codes.normalize(wrong, 8) is None, wrong
    assert codes.display("ABCDEFGH") == "ABCD-EFGH"
    password = codes.one_time_password()
    assert len(password) == 14 and password == password.lower()
    assert len({codes.one_time_password() for _ in range(1000)}) == 1000


def test_a_method_that_the_join_path_does_not_have_is_405_not_a_class_id(client, mrs_k):
    # /api/classes/join is a route (POST) beside /api/classes/{class_id}: other methods are 405 whatever the body.
    for method in ("PATCH", "DELETE", "GET"):
        response = client.request(method, "/api/classes/join", json={"code": "0"}, headers=mrs_k.headers)
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "POST"
