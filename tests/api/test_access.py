"""No user can see or touch another user's things, on any route; and no route works without a login.

Driven by the app's route table: a new route with an id in its path, or a new route that takes a body,
fails here until it is added to IDS / BODIES below (so it cannot ship untested for cross-user access).
WebSockets too: every WebSocket route must be listed in WEBSOCKETS, and each is tried with B's token.
"""

import hashlib
import re

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from digitlab.main import create_app
from tests.api import scanpages
from tests.api.class_rows import make_class, remove_member, user_id
from tests.api.datafiles import mnist_npz
from tests.api.helpers import new_project, new_user, start_extraction, upload_files
from tests.api.trainings import digits, drawing, import_samples, receive_json, start_training, wait_for_training
from tests.conftest import PASSWORD, UserHandle, make_settings, wait_for_job
from tests.lti.lti_tool import make_admin, open_deep_link

LTI_PLATFORM = {"name": "School Moodle", "issuer": "https://lms.example", "client_id": "digitlab",
                "deployment_ids": ["1"], "auth_login_url": "https://lms.example/mod/lti/auth.php",
                "auth_token_url": "https://lms.example/mod/lti/token.php",
                "jwks_url": "https://lms.example/mod/lti/certs.php"}
PUBLIC = {("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("POST", "/api/auth/token"),
          ("GET", "/api/health"), ("GET", "/"), ("POST", "/api/join"), ("POST", "/api/join/lookup"),
          ("GET", "/api/auth/password-rule"),  # the rule a new password must meet: the registration form shows it
          # LTI: the tool's public keys (platforms fetch them); a platform's login and launch come from a browser
          # with no login of ours (the id_token is the proof, tests/lti); the web app trades the launch's one-time
          # code for its session; dynamic registration is opened by the platform with a single-use address.
          ("GET", "/api/lti/jwks"), ("GET", "/api/lti/login"), ("POST", "/api/lti/login"),
          ("POST", "/api/lti/launch"), ("POST", "/api/lti/session"), ("GET", "/api/lti/register")}

# Request bodies B sends. They are valid, so a refusal can only come from the access check.
# Every route that takes a body (POST/PUT/PATCH) must be listed, even with an empty dict.
BODIES = {
    ("POST", "/api/auth/register"): {"json": {"username": "zoe", "password": "long enough pw"}},
    ("POST", "/api/auth/login"): {"json": {"username": "zoe", "password": "long enough pw"}},
    ("POST", "/api/auth/token"): {"data": {"username": "zoe", "password": "long enough pw"}},
    ("POST", "/api/auth/logout"): {},
    ("POST", "/api/auth/api-tokens"): {"json": {"name": "mine"}},
    ("POST", "/api/auth/password"): {"json": {"current_password": "long enough pw",
                                              "new_password": "a new long phrase"}},
    ("POST", "/api/auth/sessions/end-others"): {},
    ("POST", "/api/projects"): {"json": {"name": "mine"}},
    ("PATCH", "/api/projects/{project_id}"): {"json": {"name": "taken over"}},
    ("POST", "/api/projects/{project_id}/scans"): {
        "files": [("files", ("b.png", scanpages.small_png(99), "image/png"))]},
    ("POST", "/api/projects/{project_id}/scans/examples"): {},
    ("POST", "/api/projects/{project_id}/extractions"): {"json": {}},
    ("PUT", "/api/projects/{project_id}/scans/{scan_id}/corners"): {
        "json": {"corners": [[60, 50], [540, 50], [540, 800], [60, 800]]}},
    ("POST", "/api/jobs/{job_id}/cancel"): {},
    ("PATCH", "/api/projects/{project_id}/dataset/cells/{cell_id}"): {"json": {"label": "5", "included": False}},
    ("POST", "/api/projects/{project_id}/dataset/import"): {
        "files": {"file": ("b.npz", mnist_npz([1, 2, 3], seed=9), "application/octet-stream")}},
    ("POST", "/api/projects/{project_id}/trainings/summary"): {"json": {"architecture": "mlp"}},
    ("POST", "/api/projects/{project_id}/trainings"): {"json": {"architecture": "mlp", "epochs": 1}},
    ("POST", "/api/projects/{project_id}/label-checks"): {},
    ("POST", "/api/projects/{project_id}/trainings/{training_id}/cancel"): {},
    ("POST", "/api/projects/{project_id}/trainings/{training_id}/predict"): {
        "files": {"image": ("d.png", drawing(digits(1, seed=9)[0][0], 100), "image/png")}},
    ("POST", "/api/auth/teacher-invite"): {"json": {"code": "ABCD-EFGH-JKMN-PQRS"}},
    ("POST", "/api/admin/teacher-invites"): {"json": {}},
    ("POST", "/api/classes"): {"json": {"name": "mine"}},
    ("POST", "/api/classes/join"): {"json": {"code": "ABCD-EFGH"}},
    ("POST", "/api/join"): {"json": {"code": "ABCD-EFGH", "username": "zoe", "password": "long enough pw"}},
    ("POST", "/api/join/lookup"): {"json": {"code": "ABCD-EFGH"}},
    ("PATCH", "/api/classes/{class_id}"): {"json": {"name": "taken over", "closed": True}},
    ("POST", "/api/classes/{class_id}/leave"): {},
    ("POST", "/api/classes/{class_id}/teachers"): {"json": {"username": "eddie"}},
    ("POST", "/api/classes/{class_id}/students"): {"json": {"count": 1}},
    ("POST", "/api/classes/{class_id}/members/{user_id}/password-reset"): {},
    ("POST", "/api/classes/{class_id}/join-codes"): {"json": {}},
    ("POST", "/api/classes/{class_id}/bulk-scans"): {
        "files": [("files", ("copier.png", scanpages.png(scanpages.grid_page(seed=45)), "image/png"))]},
    ("POST", "/api/classes/{class_id}/unassigned-pages/{page_id}/assign"): {"json": {"project_id": 1}},
    # DELETE routes with a body (a password again) are listed too.
    ("DELETE", "/api/privacy/account"): {"json": {"password": PASSWORD}},
    ("DELETE", "/api/classes/{class_id}/students/{student_id}/data"): {"json": {"password": PASSWORD}},
    ("POST", "/api/lti/login"): {"data": {"iss": "https://lms.example", "login_hint": "1"}},
    ("POST", "/api/lti/launch"): {"data": {"id_token": "x", "state": "y"}},
    ("POST", "/api/lti/session"): {"json": {"code": "not-a-code"}},
    ("POST", "/api/lti/platforms"): {"json": LTI_PLATFORM},
    ("PATCH", "/api/lti/platforms/{platform_id}"): {"json": {"name": "taken over", "enabled": False}},
    ("POST", "/api/lti/keys/rotate"): {},
    ("POST", "/api/lti/registration-links"): {},
    ("POST", "/api/lti/deep-links/{deep_link_id}"): {"json": {"kind": "digits", "title": "taken over"}},
    ("POST", "/api/lti/classes/{class_id}/roster-sync"): {},
    ("PUT", "/api/classes/{class_id}/dataset"): {"json": {}},
    ("PUT", "/api/classes/{class_id}/challenge"): {"json": {"scan_ids": [1]}},
    ("POST", "/api/classes/{class_id}/trainings/{training_id}/other-writers"): {},
    ("POST", "/api/classes/{class_id}/trainings/{training_id}/challenge-score"): {},
}
# The LTI routes only an admin may use (the ones with a platform id are "not found" for everyone else).
LTI_ADMIN_ROUTES = [("GET", "/api/lti/tool"), ("GET", "/api/lti/platforms"), ("POST", "/api/lti/platforms"),
                    ("GET", "/api/lti/keys"), ("POST", "/api/lti/keys/rotate"), ("POST", "/api/lti/registration-links")]
# Every WebSocket route (they are not in the OpenAPI document, so they are enumerated separately).
WEBSOCKETS = {"/api/projects/{project_id}/trainings/{training_id}/ws", "/api/classes/{class_id}/roster/ws"}
# What a student's teacher may do on the student's things (tests/api/test_teacher_views.py in detail): every GET
# under a project or job, and these requests that change nothing; everything else stays the owner's.
STUDENT_PATHS = ("/api/projects/{project_id}", "/api/jobs/{job_id}")
READING_POSTS = {("POST", "/api/projects/{project_id}/trainings/{training_id}/predict")}
# The teachers' view of a class (digitlab.roster): the class's teachers only.
ROSTER_ROUTES = [("GET", "/api/classes/{class_id}/roster")]
BODY_METHODS = {"POST", "PUT", "PATCH"}
BEARER = "digitlab.bearer"  # the WebSocket subprotocol that carries the token
PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def api_routes(app) -> list[tuple[str, str]]:
    """(method, path template) of every API route, however the FastAPI version nests included routers."""
    try:
        from fastapi.routing import iter_route_contexts  # FastAPI >= 0.16x: routers are included lazily
    except ImportError:
        contexts = [route for route in app.routes if isinstance(route, APIRoute)]
    else:
        contexts = [c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)]
    routes = {(method, context.path) for context in contexts for method in context.methods}
    # Cross-check with the published API: nothing there may be missing from the enumeration.
    published = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    assert published <= routes, f"routes missing from the enumeration: {published - routes}"
    return sorted(routes)


def websocket_routes(app) -> list[str]:
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return sorted(route.path for route in app.routes if isinstance(route, APIWebSocketRoute))
    return sorted(c.path for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIWebSocketRoute))


def fill(path: str, ids: dict) -> str:
    missing = [m.group(1) for m in PARAM.finditer(path) if m.group(1) not in ids]
    assert not missing, f"{path}: add a value of user A for {missing} to the ids in the world fixture"
    return PARAM.sub(lambda m: str(ids[m.group(1)]), path)


def request_kwargs(method: str, path: str) -> dict:
    if method in BODY_METHODS:
        assert (method, path) in BODIES, f"{method} {path}: add a valid body to BODIES in test_access.py"
    return dict(BODIES.get((method, path), {}))


def snapshot(client, user) -> dict:
    """Everything of user A that B could have changed, as A sees it."""
    get = lambda url: client.get(url, headers=user.headers)  # noqa: E731
    state = {"me": get("/api/auth/me").json(),
             "tokens": [{k: v for k, v in t.items() if k != "last_used_at"} for t in get("/api/auth/api-tokens").json()],
             "sessions": [s["id"] for s in get("/api/auth/sessions").json()],
             "projects": get("/api/projects").json(),
             "classes": get("/api/classes").json(),
             "lti_platforms": get("/api/lti/platforms").json(), "lti_keys": get("/api/lti/keys").json()}
    for school_class in state["classes"]:
        if school_class["role"] == "teacher":
            base = f"/api/classes/{school_class['id']}"
            state[base] = {"members": get(f"{base}/members").json(), "join_codes": get(f"{base}/join-codes").json()}
    for project in state["projects"]:
        base = f"/api/projects/{project['id']}"
        scans = get(f"{base}/scans").json()
        state[base] = {
            "scans": scans,
            "originals": [hashlib.sha256(get(s["original_url"]).content).hexdigest() for s in scans],
            "jobs": get(f"{base}/jobs").json(),
            "dataset": get(f"{base}/dataset").json(),
            "cells": get(f"{base}/dataset/cells?which=all&limit=1000").json(),
            "trainings": get(f"{base}/trainings").json(),
        }
        for training in state[base]["trainings"]:
            url = f"{base}/trainings/{training['id']}"
            state[url] = {"history": get(f"{url}/history").json(),
                          "model": hashlib.sha256(get(f"{url}/files/model.onnx").content).hexdigest()}
    return state


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """User A with one of everything (an extracted scan, imported samples, a job, an API token); user B.
    A's training comes from the `trained` fixture."""
    settings = make_settings(tmp_path_factory.mktemp("access") / "data")
    with TestClient(create_app(settings)) as client:
        a, b = new_user(client, "anna"), new_user(client, "ben")
        project = new_project(client, a, "anna's digits")
        [scan] = upload_files(client, a, project["id"], ("sheet.png", scanpages.png(scanpages.grid_page(seed=40))))
        job = wait_for_job(client, a, start_extraction(client, a, project["id"])["id"])
        assert job["status"] == "succeeded", job
        imported = client.post(f"/api/projects/{project['id']}/dataset/import", headers=a.headers,
                               files={"file": ("m.npz", mnist_npz([0, 1, 2]), "application/octet-stream")})
        assert imported.status_code == 201
        cell = client.get(f"/api/projects/{project['id']}/dataset/cells", headers=a.headers,
                          params={"limit": 1}).json()["items"][0]
        token = client.post("/api/auth/api-tokens", json={"name": "anna's moodle"}, headers=a.headers).json()
        [session] = client.get("/api/auth/sessions", headers=a.headers).json()
        new_project(client, b, "ben's own")
        # A teaches a class of two students (cleo, dora); ed teaches another (finn); gil was in A's class.
        cleo, dora, ed, finn, gil = (new_user(client, name) for name in ("cleo", "dora", "eddie", "finn", "gil"))
        cleo_project = new_project(client, cleo, "cleo's digits")
        import_samples(client, cleo, cleo_project["id"], *digits(3, seed=42))
        # A is the instance's admin (its first account): an invitation of A's, before make_class makes A a teacher.
        invite = client.post("/api/admin/teacher-invites", json={}, headers=a.headers).json()
        class_id = make_class(client, "7a", [a], [cleo, dora, gil])
        other_class_id = make_class(client, "7x", [ed], [finn])
        remove_member(client, class_id, gil)
        # A's class has a class data set (cleo's samples) and a challenge (A's own sheet).
        assert client.put(f"/api/classes/{class_id}/dataset", json={}, headers=a.headers).status_code == 200
        challenge = client.put(f"/api/classes/{class_id}/challenge", json={"scan_ids": [scan["id"]]}, headers=a.headers)
        assert challenge.status_code == 200, challenge.text
        join_code = client.post(f"/api/classes/{class_id}/join-codes", json={}, headers=a.headers).json()
        # A page waits in the unassigned tray of A's class (a bulk upload of a sheet without a code).
        bulk = client.post(f"/api/classes/{class_id}/bulk-scans", headers=a.headers,
                           files=[("files", ("copier.png", scanpages.png(scanpages.grid_page(seed=44)), "image/png"))])
        assert bulk.status_code == 201, bulk.text
        # A (the admin: make_class made A a plain teacher) registered a learning platform, and has a deep-linking
        # request open (as a teacher's launch leaves one).
        make_admin(client.app.state.engine, user_id(client, a))
        platform = client.post("/api/lti/platforms", json=LTI_PLATFORM, headers=a.headers).json()
        deep_link_id = open_deep_link(client.app.state.engine, user_id(client, a), platform["id"])
        ids = {"project_id": project["id"], "scan_id": scan["id"], "job_id": job["id"], "cell_id": cell["id"],
               "token_id": token["id"], "session_id": session["id"],
               "class_id": class_id, "student_id": user_id(client, cleo), "other_class_id": other_class_id,
               "user_id": user_id(client, dora), "code_id": join_code["id"], "invite_id": invite["id"],
               "invite_code": invite["code"], "platform_id": platform["id"], "deep_link_id": deep_link_id,
               "page_id": bulk.json()["pages"][0]["unassigned_page_id"],
               "label_index": 0, "true_index": 0, "predicted_index": 0,
               "name": "model.onnx",
               # A's training (see `trained`). Until it exists, routes under it answer 404 to A as well,
               # which the tests that do not need it (no login, absurd ids) do not mind.
               "training_id": 1, "check_id": 1}
        yield client, a, b, ids


@pytest.fixture(scope="module")
def trained(world):
    """The world plus a finished training of A's (its model, evaluation and stream): a few seconds, once."""
    client, a, b, ids = world
    x, y = digits(5, seed=41)  # enough of every label to train on
    import_samples(client, a, ids["project_id"], x, y)
    training = wait_for_training(client, a, start_training(client, a, ids["project_id"], architecture="mlp", epochs=1))
    assert training["status"] == "succeeded", training
    ids["training_id"] = training["id"]
    # A (the class's teacher) compares the network with the class: on the other writers and on the challenge.
    for path in ("other-writers", "challenge-score"):
        asked = client.post(f"/api/classes/{ids['class_id']}/trainings/{training['id']}/{path}", headers=a.headers)
        assert asked.status_code == 202, asked.text
    for job in client.get(f"/api/projects/{ids['project_id']}/jobs", headers=a.headers).json():
        assert wait_for_job(client, a, job["id"])["status"] == "succeeded", job  # the snapshots must not move
    # A label check of A's project, stopped at once (its networks are not what is tested here).
    check = client.post(f"/api/projects/{ids['project_id']}/label-checks", headers=a.headers)
    assert check.status_code == 202, check.text
    assert client.post(f"/api/jobs/{check.json()['job_id']}/cancel", headers=a.headers).status_code == 200
    assert wait_for_job(client, a, check.json()["job_id"])["status"] == "cancelled"
    ids["check_id"] = check.json()["id"]
    return world


@pytest.mark.slow
def test_another_users_ids_answer_404_on_every_route(trained):
    client, a, b, ids = trained
    before = snapshot(client, a)
    checked = []
    for method, path in api_routes(client.app):
        if not PARAM.search(path):
            continue
        url = fill(path, ids)
        if method == "GET":  # the owner can read it: so B's 404 is about access, not a missing thing
            own = client.get(url, headers=a.headers)
            assert own.status_code == 200, f"A cannot GET own {url}: {own.status_code} {own.text[:200]}"
        response = client.request(method, url, headers=b.headers, **request_kwargs(method, path))
        assert response.status_code == 404, f"{method} {path} as another user: {response.status_code} {response.text[:200]}"
        body = response.json()
        assert body["code"] == "not_found" and body["detail"]
        checked.append((method, path))
    assert len(checked) >= 20, checked  # the table really was walked
    assert snapshot(client, a) == before
    # B's own lists show nothing of A's.
    assert [p["name"] for p in client.get("/api/projects", headers=b.headers).json()] == ["ben's own"]
    assert client.get("/api/auth/api-tokens", headers=b.headers).json() == []


@pytest.fixture(scope="module")
def classroom(world):
    """The other people of A's class world, logged in: cleo and dora (A's students), ed (eddie, another class's
    teacher), gil (removed from A's class)."""
    client = world[0]
    handles = {}
    for name, username in (("cleo", "cleo"), ("dora", "dora"), ("ed", "eddie"), ("gil", "gil")):
        response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        handles[name] = UserHandle(username, response.json()["access_token"])
    return handles


def test_routes_about_a_student_answer_only_that_students_teachers(world, classroom):
    """Every route about one student of a class ({student_id}): a classmate, the student themselves (these are
    teachers' routes), a teacher of another class (with either class), and the class's teacher asking about a
    removed student all get 404, and nothing of the student changes. (B, a stranger: the test above.)"""
    client, a, b, ids = world
    cleo, gil = ids["student_id"], user_id(client, classroom["gil"])
    before = {name: snapshot(client, user) for name, user in classroom.items()}
    cases = [(classroom["dora"], ids["class_id"], cleo), (classroom["cleo"], ids["class_id"], cleo),
             (classroom["ed"], ids["class_id"], cleo), (classroom["ed"], ids["other_class_id"], cleo),
             (a, ids["class_id"], gil), (a, ids["other_class_id"], user_id(client, classroom["ed"]))]
    routes = [(method, path) for method, path in api_routes(client.app) if "{student_id}" in path]
    assert len(routes) >= 2, routes
    for method, path in routes:
        for who, class_id, student_id in cases:
            url = fill(path, dict(ids, class_id=class_id, student_id=student_id))
            response = client.request(method, url, headers=who.headers, **request_kwargs(method, path))
            assert response.status_code == 404, f"{method} {url} as {who.username}: {response.status_code}"
            assert response.json()["code"] == "not_found"
    assert {name: snapshot(client, user) for name, user in classroom.items()} == before


def test_class_routes_answer_only_the_class_teachers(world, classroom):
    """Every route of a class ({class_id}, from digitlab.classes and digitlab.class_scans): a teacher of another
    class, a removed student, and A with the other teacher's class get 404; a student of the class gets 404 on the
    teachers' routes and only the student's view of the class; and nothing of anyone changes."""
    from digitlab.class_scans.router import router as class_scans_router
    from digitlab.classes.router import router as classes_router

    client, a, b, ids = world
    people = {**classroom, "anna": a}
    before = {name: snapshot(client, user) for name, user in people.items()}
    students_may = {("GET", "/api/classes/{class_id}"), ("POST", "/api/classes/{class_id}/leave")}
    routes = sorted({(method, route.path) for route in (*classes_router.routes, *class_scans_router.routes)
                     for method in route.methods if "{class_id}" in route.path})
    assert len(routes) >= 12, routes
    outsiders = [(classroom["ed"], ids["class_id"]), (classroom["gil"], ids["class_id"]), (a, ids["other_class_id"])]
    for method, path in routes:
        student = [] if (method, path) in students_may else [(classroom["cleo"], ids["class_id"])]
        for who, class_id in outsiders + student:
            url = fill(path, dict(ids, class_id=class_id))
            response = client.request(method, url, headers=who.headers, **request_kwargs(method, path))
            assert response.status_code == 404, f"{method} {url} as {who.username}: {response.status_code}"
            assert response.json()["code"] == "not_found"
    seen = client.get(f"/api/classes/{ids['class_id']}", headers=classroom["cleo"].headers)
    assert seen.status_code == 200 and seen.json()["details"] is None and seen.json()["writer_number"] == 1
    assert "dora" not in seen.text
    assert {name: snapshot(client, user) for name, user in people.items()} == before


def test_class_data_set_and_challenge_routes(world, classroom):
    """The class data set and the challenge (digitlab.class_datasets, digitlab.challenges): a teacher of another
    class, a removed student and A with the other teacher's class get 404 on every route; a student of the class
    (cleo) gets 404 on the teachers' routes and on someone else's training (A's), and reads the data set, the
    challenge and the leaderboard without a nickname, a writer behind an image, or a challenge sample in sight."""
    from digitlab.challenges.router import router as challenges_router
    from digitlab.class_datasets.router import router as class_datasets_router

    client, a, b, ids = world
    cleo = classroom["cleo"]
    people = {**classroom, "anna": a}
    base = f"/api/classes/{ids['class_id']}"
    as_teacher = {path: client.get(f"{base}{path}", headers=a.headers).json() for path in ("/dataset", "/challenge")}
    before = {name: snapshot(client, user) for name, user in people.items()}
    students_may = {("GET", "/api/classes/{class_id}/dataset"), ("GET", "/api/classes/{class_id}/dataset/samples"),
                    ("GET", "/api/classes/{class_id}/challenge"),
                    ("GET", "/api/classes/{class_id}/challenge/leaderboard")}
    routes = sorted({(method, route.path) for route in (*class_datasets_router.routes, *challenges_router.routes)
                     for method in route.methods})
    assert len(routes) == 13, routes
    outsiders = [(classroom["ed"], ids["class_id"]), (classroom["gil"], ids["class_id"]), (a, ids["other_class_id"])]
    for method, path in routes:
        for who, class_id in outsiders + ([] if (method, path) in students_may else [(cleo, ids["class_id"])]):
            url = fill(path, dict(ids, class_id=class_id))
            response = client.request(method, url, headers=who.headers, **request_kwargs(method, path))
            assert response.status_code == 404, f"{method} {url} as {who.username}: {response.status_code}"
            assert response.json()["code"] == "not_found"
    seen = {path: client.get(f"{base}{path}", headers=cleo.headers) for path in (
        "/dataset", "/dataset/samples", "/challenge", "/challenge/leaderboard")}
    assert all(response.status_code == 200 for response in seen.values()), seen
    dataset, challenge = seen["/dataset"].json(), seen["/challenge"].json()
    assert dataset["sources"] is None and [(w["nickname"], w["you"]) for w in dataset["per_writer"]] == [(None, True)]
    assert all(item["writer_number"] is None for item in seen["/dataset/samples"].json()["items"])
    assert challenge["sheets"] is None and challenge["per_label"] is None and challenge["sample_count"] > 0
    assert "anna" not in seen["/dataset"].text + seen["/dataset/samples"].text + seen["/challenge"].text
    assert {name: snapshot(client, user) for name, user in people.items()} == before
    assert {path: client.get(f"{base}{path}", headers=a.headers).json() for path in as_teacher} == as_teacher


def test_only_an_admin_withdraws_a_teacher_invitation(world, classroom):
    client, a, b, ids = world
    for user in (b, *classroom.values()):
        response = client.delete(f"/api/admin/teacher-invites/{ids['invite_id']}", headers=user.headers)
        assert response.status_code == 404, user.username
    registered = client.post("/api/auth/register", json={"username": "zed", "password": PASSWORD,
                                                         "invite_code": ids["invite_code"]})
    assert registered.status_code == 201 and registered.json()["role"] == "teacher"  # still usable


def test_lti_registration_is_for_admins_only(world, classroom):
    """Registering platforms, the tool's keys and registration links: 403 `admins_only` for a student and for a
    teacher (ed), and nothing changes; the routes with a platform id are 404 for them (the walk above)."""
    client, a, b, _ids = world
    before = snapshot(client, a)
    for user in (b, classroom["cleo"], classroom["ed"]):
        for method, path in LTI_ADMIN_ROUTES:
            response = client.request(method, path, headers=user.headers, **request_kwargs(method, path))
            assert response.status_code == 403, f"{method} {path} as {user.username}: {response.status_code}"
            assert response.json()["code"] == "admins_only"
    assert snapshot(client, a) == before
    assert client.get("/api/lti/tool", headers=a.headers).status_code == 200


def test_unknown_ids_look_exactly_like_another_users(world):
    """The answer for someone else's id must not reveal that it exists."""
    client, a, b, ids = world
    for method, path, name in [("GET", "/api/projects/{project_id}", "project_id"),
                               ("GET", "/api/projects/{project_id}/scans", "project_id"),
                               ("GET", "/api/jobs/{job_id}", "job_id"),
                               ("DELETE", "/api/auth/api-tokens/{token_id}", "token_id")]:
        missing = client.request(method, fill(path, dict(ids, **{name: 10**9})), headers=a.headers)
        foreign = client.request(method, fill(path, ids), headers=b.headers)
        assert missing.status_code == foreign.status_code == 404, path
        assert missing.json() == foreign.json(), path
    for path in ("/api/projects/{project_id}/scans/{scan_id}", "/api/projects/{project_id}/dataset/cells/{cell_id}/image.png"):
        other_project = client.get("/api/projects", headers=b.headers).json()[0]["id"]
        # B puts A's scan / cell id under B's own project: still just "not found".
        response = client.get(fill(path, dict(ids, project_id=other_project)), headers=b.headers)
        assert response.status_code == 404, path


def test_absurd_ids_are_not_found_rather_than_a_server_error(world):
    """Ids beyond the database's integer range (a typo, a fuzzer) must still get a clean 4xx answer."""
    client, a, b, ids = world
    before = snapshot(client, a)
    for huge in (2**63, 10**30):
        for method, path in api_routes(client.app):
            if not PARAM.search(path):
                continue
            url = fill(path, {name: huge for name in ids})
            try:
                response = client.request(method, url, headers=a.headers, **request_kwargs(method, path))
            except Exception as exc:  # noqa: BLE001 - the TestClient re-raises server errors
                pytest.fail(f"{method} {url}: server error {exc!r}")
            assert response.status_code in (404, 422), f"{method} {url}: {response.status_code}"
            assert response.json()["detail"]
    assert snapshot(client, a) == before


def test_every_route_needs_a_login(world):
    client, a, b, ids = world
    before = snapshot(client, a)
    checked = 0
    for method, path in api_routes(client.app):
        if (method, path) in PUBLIC:
            continue
        url = fill(path, ids)
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = client.request(method, url, headers=headers, **request_kwargs(method, path))
            assert response.status_code == 401, f"{method} {path} with {headers}: {response.status_code}"
            assert response.json()["code"] in ("not_authenticated", "invalid_token")
        checked += 1
    assert checked >= 25
    assert snapshot(client, a) == before


def test_public_routes_work_without_a_login(world):
    client = world[0]
    assert client.get("/api/health").json()["status"] == "ok"
    assert client.post("/api/auth/login", json={"username": "nobody", "password": "x"}).status_code == 401


def test_every_websocket_is_covered(world):
    client = world[0]
    assert set(websocket_routes(client.app)) == WEBSOCKETS, "add the new WebSocket route to WEBSOCKETS"


def open_socket(client, url: str, *protocols: str):
    """A WebSocket as the web app opens it: the token as the subprotocol after "digitlab.bearer"."""
    return client.websocket_connect(url, subprotocols=list(protocols))


def assert_socket_refused(client, url: str, protocols: list[str], code: int) -> None:
    with pytest.raises(WebSocketDisconnect) as refusal:
        with open_socket(client, url, *protocols) as ws:
            receive_json(ws, timeout=10)
    assert refusal.value.code == code, (url, protocols)


@pytest.mark.slow
def test_another_users_websocket_is_refused(trained):
    """Only the owner's token opens a stream; anything else is closed with 4401 (no valid login) or 4404."""
    client, a, b, ids = trained
    before = snapshot(client, a)
    for path in websocket_routes(client.app):
        url = fill(path, ids)
        with open_socket(client, url, BEARER, a.token) as ws:  # the owner: so B's refusal is about access
            assert receive_json(ws, timeout=10)  # the first message (a status, a roster)
        for protocols, code in (([BEARER, b.token], 4404), ([BEARER, "not-a-token"], 4401), ([BEARER], 4401),
                                ([], 4401)):
            assert_socket_refused(client, url, protocols, code)
    assert snapshot(client, a) == before


@pytest.mark.slow
def test_a_students_teacher_reads_everything_of_theirs_and_changes_nothing(trained):
    """tess teaches a class that A is a student of: every GET on A's projects and jobs (and predict, which only
    reads) answers her, every other route of them is 404, A's own list stays A's, and nothing changes. Once A is
    removed from her class, all of it is 404 at once. Her socket on A's training streams; A's roster is not hers."""
    client, a, b, ids = trained
    tess = new_user(client, "tess")
    class_id = make_class(client, "7t", [tess], [a])
    before = snapshot(client, a)
    routes = [(method, path) for method, path in api_routes(client.app) if path.startswith(STUDENT_PATHS)]
    reads = [(m, p) for m, p in routes if m == "GET" or (m, p) in READING_POSTS]
    assert len(reads) >= 20 and len(routes) - len(reads) >= 10, routes
    try:
        for method, path in routes:
            response = client.request(method, fill(path, ids), headers=tess.headers, **request_kwargs(method, path))
            expected = 200 if (method, path) in reads else 404
            assert response.status_code == expected, f"{method} {path} as A's teacher: {response.status_code}"
        assert [p["name"] for p in client.get("/api/projects", headers=tess.headers).json()] == []
        training_socket = fill("/api/projects/{project_id}/trainings/{training_id}/ws", ids)
        with open_socket(client, training_socket, BEARER, tess.token) as ws:
            assert receive_json(ws, timeout=10)["type"] == "status"
        assert_socket_refused(client, fill("/api/classes/{class_id}/roster/ws", ids), [BEARER, tess.token], 4404)
        assert snapshot(client, a) == before

        remove_member(client, class_id, a)
        before = snapshot(client, a)  # A's class list is one class shorter
        for method, path in routes:
            response = client.request(method, fill(path, ids), headers=tess.headers, **request_kwargs(method, path))
            assert response.status_code == 404, f"{method} {path} after A left: {response.status_code}"
        assert_socket_refused(client, training_socket, [BEARER, tess.token], 4404)
        assert snapshot(client, a) == before
    finally:
        remove_member(client, class_id, a, missing_ok=True)


def test_the_roster_answers_only_the_class_teachers(world, classroom):
    """A's roster (A teaches the class): 404 and a refused socket for its students (cleo), a removed student (gil),
    another class's teacher (ed) and B; A with ed's class likewise."""
    client, a, b, ids = world
    cases = [(classroom["cleo"], ids["class_id"]), (classroom["gil"], ids["class_id"]),
             (classroom["ed"], ids["class_id"]), (b, ids["class_id"]), (a, ids["other_class_id"])]
    for method, path in ROSTER_ROUTES:
        assert client.request(method, fill(path, ids), headers=a.headers).status_code == 200
        for who, class_id in cases:
            response = client.request(method, fill(path, dict(ids, class_id=class_id)), headers=who.headers)
            assert response.status_code == 404, f"{method} {path} of class {class_id} as {who.username}"
            assert response.json()["code"] == "not_found"
    for who, class_id in cases:
        assert_socket_refused(client, fill("/api/classes/{class_id}/roster/ws", dict(ids, class_id=class_id)),
                              [BEARER, who.token], 4404)


@pytest.mark.parametrize("huge", [2**31, 2**63, 10**30])
def test_absurd_websocket_ids_are_refused_rather_than_a_server_error(world, huge):
    client, a, b, ids = world
    for path in websocket_routes(client.app):
        for name in [m.group(1) for m in PARAM.finditer(path)]:
            url = fill(path, dict(ids, **{name: huge}))
            try:
                with pytest.raises(WebSocketDisconnect) as refusal:
                    with client.websocket_connect(f"{url}?token={a.token}") as ws:
                        receive_json(ws, timeout=10)
            except Exception as exc:  # noqa: BLE001 - the TestClient re-raises server errors
                pytest.fail(f"{url}: server error {exc!r}")
            assert refusal.value.code == 1008, url
