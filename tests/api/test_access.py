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
from tests.api.datafiles import mnist_npz
from tests.api.helpers import new_project, new_user, start_extraction, upload_files
from tests.api.trainings import digits, drawing, import_samples, receive_json, start_training, wait_for_training
from tests.conftest import make_settings, wait_for_job

PUBLIC = {("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("POST", "/api/auth/token"),
          ("GET", "/api/health"), ("GET", "/")}

# Request bodies B sends. They are valid, so a refusal can only come from the access check.
# Every route that takes a body (POST/PUT/PATCH) must be listed, even with an empty dict.
BODIES = {
    ("POST", "/api/auth/register"): {"json": {"username": "zoe", "password": "long enough pw"}},
    ("POST", "/api/auth/login"): {"json": {"username": "zoe", "password": "long enough pw"}},
    ("POST", "/api/auth/token"): {"data": {"username": "zoe", "password": "long enough pw"}},
    ("POST", "/api/auth/logout"): {},
    ("POST", "/api/auth/api-tokens"): {"json": {"name": "mine"}},
    ("POST", "/api/projects"): {"json": {"name": "mine"}},
    ("PATCH", "/api/projects/{project_id}"): {"json": {"name": "taken over"}},
    ("POST", "/api/projects/{project_id}/scans"): {
        "files": [("files", ("b.png", scanpages.small_png(99), "image/png"))]},
    ("POST", "/api/projects/{project_id}/extractions"): {"json": {}},
    ("POST", "/api/jobs/{job_id}/cancel"): {},
    ("PATCH", "/api/projects/{project_id}/dataset/cells/{cell_id}"): {"json": {"label": "5", "included": False}},
    ("POST", "/api/projects/{project_id}/dataset/import"): {
        "files": {"file": ("b.npz", mnist_npz([1, 2, 3], seed=9), "application/octet-stream")}},
    ("POST", "/api/projects/{project_id}/trainings/summary"): {"json": {"architecture": "mlp"}},
    ("POST", "/api/projects/{project_id}/trainings"): {"json": {"architecture": "mlp", "epochs": 1}},
    ("POST", "/api/projects/{project_id}/trainings/{training_id}/cancel"): {},
    ("POST", "/api/projects/{project_id}/trainings/{training_id}/predict"): {
        "files": {"image": ("d.png", drawing(digits(1, seed=9)[0][0], 100), "image/png")}},
}
# Every WebSocket route (they are not in the OpenAPI document, so they are enumerated separately).
WEBSOCKETS = {"/api/projects/{project_id}/trainings/{training_id}/ws"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
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
             "projects": get("/api/projects").json()}
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
        new_project(client, b, "ben's own")
        ids = {"project_id": project["id"], "scan_id": scan["id"], "job_id": job["id"], "cell_id": cell["id"],
               "token_id": token["id"], "label_index": 0, "true_index": 0, "predicted_index": 0,
               "name": "model.onnx",
               # A's training (see `trained`). Until it exists, routes under it answer 404 to A as well,
               # which the tests that do not need it (no login, absurd ids) do not mind.
               "training_id": 1}
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


@pytest.mark.slow
def test_another_users_websocket_is_refused(trained):
    """Only the owner's token opens a stream; anything else is closed with 1008 before it is accepted."""
    client, a, b, ids = trained
    before = snapshot(client, a)
    for path in websocket_routes(client.app):
        url = fill(path, ids)
        with client.websocket_connect(f"{url}?token={a.token}") as ws:  # the owner: so B's refusal is about access
            assert receive_json(ws, timeout=10)["type"] == "status"
        for query in (f"?token={b.token}", "?token=not-a-token", "?token=", ""):
            with pytest.raises(WebSocketDisconnect) as refusal:
                with client.websocket_connect(url + query) as ws:
                    receive_json(ws, timeout=10)
            assert refusal.value.code == 1008, (path, query)
    assert snapshot(client, a) == before


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
