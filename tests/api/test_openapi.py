"""Hardening point 9: an API that tells the truth. One error shape, documented with every status a route can
answer; media types of downloads; typed answers; constraints as enforced; unknown fields and wrong types
refused; paging; an extraction without a body; methods a path does not support answered 405 with the right
Allow header. (schemathesis checks the same against the running service: test_schemathesis.py.)"""

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from digitlab.api.methods import api_routes
from digitlab.api.openapi import BINARY_RESPONSES, CREATES, DOMAIN_ERRORS
from digitlab.core.config import Settings
from digitlab.core.schemas import RequestBody
from digitlab.main import create_app
from tests.api.helpers import new_project, upload_files
from tests.api.scanpages import grid_page, png
from tests.conftest import make_settings

ERROR_REF = {"$ref": "#/components/schemas/Error"}
SUCCESS = {"200", "201", "202", "204"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    return create_app(make_settings(tmp_path_factory.mktemp("openapi") / "data"), run_jobs=False)


@pytest.fixture(scope="module")
def schema(app) -> dict:
    with TestClient(app) as client:
        return client.get("/openapi.json").json()


def operations(schema: dict):
    for path, items in schema["paths"].items():
        for method, operation in items.items():
            yield f"{method.upper()} {path}", operation


def statuses(schema: dict, label: str) -> set[str]:
    method, path = label.split(" ", 1)
    return set(schema["paths"][path][method.lower()]["responses"])


def test_the_error_shape_is_one_component_used_by_every_4xx(schema: dict) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail", "code"]
    assert error["properties"]["detail"]["type"] == error["properties"]["code"]["type"] == "string"
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    count = 0
    for label, operation in operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == ERROR_REF, (label, status)
                count += 1
    assert count > 100


def test_every_status_a_route_can_answer_is_documented(schema: dict) -> None:
    for label, operation in operations(schema):
        documented = set(operation["responses"])
        path_params = [p for p in operation.get("parameters", []) if p["in"] == "path"]
        query_params = [p for p in operation.get("parameters", []) if p["in"] == "query"]
        assert documented & SUCCESS, label
        if operation.get("security"):
            assert "401" in documented, label
        if path_params:
            assert "404" in documented, label
        if query_params or "requestBody" in operation:
            assert "422" in documented, label
        if "requestBody" in operation:
            assert "413" in documented, label
        if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
            assert "415" in documented, label
    assert {"409", "429"} <= statuses(schema, "POST /api/auth/register")
    assert {"401", "429"} <= statuses(schema, "POST /api/auth/login")
    assert {"403"} <= statuses(schema, "POST /api/auth/api-tokens")
    assert {"409"} <= statuses(schema, "PATCH /api/projects/{project_id}")
    assert {"409", "507"} <= statuses(schema, "POST /api/projects/{project_id}/scans")
    assert {"409"} <= statuses(schema, "GET /api/projects/{project_id}/trainings/{training_id}/evaluation")
    assert {"409"} <= statuses(schema, "POST /api/projects/{project_id}/trainings/{training_id}/predict")
    # ... and nothing it cannot: a route without a body or parameters has no 422, without a login no 401.
    assert statuses(schema, "GET /api/projects/{project_id}") == {"200", "401", "403", "404"}  # 403: one-time pw
    assert statuses(schema, "GET /api/health") == {"200"}
    retry = schema["paths"]["/api/auth/login"]["post"]["responses"]["429"]["headers"]
    assert "Retry-After" in retry


def test_the_tables_name_real_routes(app) -> None:
    names = {route.name for route in api_routes(app)}
    assert set(DOMAIN_ERRORS) <= names
    assert set(BINARY_RESPONSES) <= names
    assert set(CREATES) <= names


def test_downloads_declare_their_media_types(schema: dict) -> None:
    def media(label: str) -> set[str]:
        method, path = label.split(" ", 1)
        return set(schema["paths"][path][method.lower()]["responses"]["200"]["content"])

    base = "/api/projects/{project_id}"
    training = base + "/trainings/{training_id}"
    assert media(f"GET {base}/sheet.pdf") == {"application/pdf"}
    assert media(f"GET {base}/dataset/cells/{{cell_id}}/image.png") == {"image/png"}
    assert media(f"GET {base}/dataset/sheets/{{label_index}}.png") == {"image/png"}
    assert media(f"GET {base}/dataset/export") == {"application/octet-stream", "application/zip"}  # npz, zip
    assert media(f"GET {training}/files/{{name}}") == {"application/octet-stream", "application/json"}  # onnx
    assert media(f"GET {base}/scans/{{scan_id}}/thumbnail") == {"image/jpeg"}
    assert {"image/png", "image/jpeg", "application/pdf"} <= media(f"GET {base}/scans/{{scan_id}}/original")


def test_every_non_json_route_declares_its_media_types(app) -> None:
    from starlette.responses import JSONResponse

    for route in api_routes(app):
        original = route.original_route if hasattr(route, "original_route") else route
        assert isinstance(original, APIRoute)
        response_class = getattr(original.response_class, "value", original.response_class)
        if route.include_in_schema and not issubclass(response_class, JSONResponse):
            assert route.name in BINARY_RESPONSES, route.name


def test_predict_and_history_answers_are_typed(schema: dict) -> None:
    training = "/api/projects/{project_id}/trainings/{training_id}"
    predict = schema["paths"][f"{training}/predict"]["post"]["responses"]["200"]["content"]["application/json"]
    assert predict["schema"] == {"$ref": "#/components/schemas/PredictionPublic"}
    fields = schema["components"]["schemas"]["PredictionPublic"]["properties"]
    assert {"labels", "probabilities", "predicted", "confidence", "input", "activations"} <= set(fields)
    history = schema["paths"][f"{training}/history"]["get"]["responses"]["200"]["content"]["application/json"]
    items = history["schema"]["items"]
    refs = {option["$ref"].rsplit("/", 1)[1] for option in items["oneOf"]}
    assert refs == {"StatusMessage", "QueueMessage", "StartedMessage", "ProgressMessage", "EpochMessage", "EndMessage"}


def test_constraints_in_the_schema_are_the_enforced_ones(schema: dict, app) -> None:
    components = schema["components"]["schemas"]
    password = components["UserCreate"]["properties"]["password"]
    assert password["minLength"] == Settings().password_min_length == 8 and password["maxLength"] == 256
    labels = components["ProjectCreate"]["properties"]["labels"]
    assert labels["minItems"] == labels["maxItems"] == 10 and labels["uniqueItems"] is True
    assert labels["items"]["maxLength"] == 8 and labels["items"]["pattern"]
    for name in ("TrainingCreate", "NetworkSummaryRequest"):
        rule = components[name]["allOf"][0]
        assert rule["if"]["properties"]["architecture"]["const"] == "custom"
        assert rule["then"]["required"] == ["layers"] and rule["else"]["properties"]["layers"]["type"] == "null"
    for name in ("UserCreate", "LoginRequest", "ProjectCreate", "ProjectUpdate", "CellUpdate", "ExtractionCreate",
                 "NetworkSummaryRequest", "TrainingCreate", "ApiTokenCreate"):
        assert components[name]["additionalProperties"] is False, name
    paging = {p["name"]: p["schema"] for p in schema["paths"]["/api/projects"]["get"]["parameters"]}
    assert paging["limit"]["minimum"] == 1 and paging["offset"]["minimum"] == 0 and paging["offset"]["maximum"]


def test_every_request_body_is_strict(app) -> None:
    for route in api_routes(app):
        body = route.body_field
        if body is None or not isinstance(body.field_info.annotation, type):
            continue
        model = body.field_info.annotation
        if getattr(model, "__name__", "").startswith("Body_"):  # form and file fields, not a JSON object
            continue
        assert issubclass(model, RequestBody), (route.name, model)


# --- what the service does ------------------------------------------------------------------------------------
def test_unknown_fields_are_refused_not_ignored(client, alice, make_project) -> None:
    project = make_project(alice)
    trainings = f"/api/projects/{project['id']}/trainings"
    refused = client.post(trainings, json={"preset": "cnn"}, headers=alice.headers)  # the field is `architecture`
    assert refused.status_code == 422
    assert refused.json()["code"] == "validation_error" and "preset" in refused.json()["detail"]
    assert client.post(f"{trainings}/summary", json={"architecture": "cnn", "color": 1},
                       headers=alice.headers).status_code == 422
    assert client.post("/api/projects", json={"name": "x", "owner": "bob"}, headers=alice.headers).status_code == 422
    layers = [{"kind": "flatten"}, {"kind": "dense", "units": 8, "colour": "red"}]
    assert client.post(f"{trainings}/summary", json={"architecture": "custom", "layers": layers},
                       headers=alice.headers).status_code == 422


@pytest.mark.parametrize("body", [
    {"epochs": True},  # once trained one epoch
    {"epochs": "3"},
    {"epochs": 3.0},
    {"batch_size": False},
    {"architecture": "custom", "layers": [{"kind": "flatten"}, {"kind": "dense", "units": "64"}]},
    {"architecture": "custom", "layers": [{"kind": "flatten"}, {"kind": "dense", "units": True}]},
])
def test_types_are_not_coerced(client, alice, make_project, body: dict) -> None:
    project = make_project(alice)
    where = "trainings/summary" if "layers" in body else "trainings"  # the summary takes no training settings
    answer = client.post(f"/api/projects/{project['id']}/{where}", json=body, headers=alice.headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] in ("validation_error", "invalid_network")


def test_other_bodies_are_strict_too(client, alice, make_project) -> None:
    project = make_project(alice)
    assert client.post("/api/projects", json={"name": 5}, headers=alice.headers).status_code == 422
    renamed = client.patch(f"/api/projects/{project['id']}", json={"name": ["a"]}, headers=alice.headers)
    assert renamed.status_code == 422
    assert client.post("/api/auth/api-tokens", json={"name": 1}, headers=alice.headers).status_code == 422
    assert client.post("/api/auth/login", json={"username": "alice", "password": 12345678}).status_code == 422
    assert client.post(f"/api/projects/{project['id']}/extractions", json={"scan_ids": ["1"]},
                       headers=alice.headers).status_code == 422
    # An integer where a number is expected is a number (JSON Schema says so).
    assert client.post(f"/api/projects/{project['id']}/trainings", json={"learning_rate": 1},
                       headers=alice.headers).json()["code"] == "dataset_too_small"


@pytest.mark.parametrize("labels", [
    [str(i) for i in range(9)] + [" 9"],  # once stripped silently; the schema forbids a space at either end
    [str(i) for i in range(9)] + ["9\u00a0"],
    [str(i) for i in range(9)] + ["a\tb"],
])
def test_labels_are_refused_exactly_where_the_schema_says(client, alice, labels) -> None:
    answer = client.post("/api/projects", json={"name": "x", "labels": labels}, headers=alice.headers)
    assert answer.status_code == 422, answer.text


def test_lists_page_with_limit_and_offset(client, alice, make_project) -> None:
    ids = [make_project(alice, f"p{i}")["id"] for i in range(3)]
    page = lambda **params: client.get("/api/projects", params=params, headers=alice.headers)  # noqa: E731
    assert [p["id"] for p in page().json()] == ids
    assert [p["id"] for p in page(limit=2).json()] == ids[:2]
    assert [p["id"] for p in page(limit=2, offset=2).json()] == ids[2:]
    assert page(offset=3).json() == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"offset": 10**30}, {"limit": "two"}):
        answer = page(**bad)
        assert answer.status_code == 422, bad
        assert answer.json()["code"] == "validation_error"
    for url in ("/api/auth/api-tokens", "/api/auth/sessions", f"/api/projects/{ids[0]}/scans",
                f"/api/projects/{ids[0]}/jobs", f"/api/projects/{ids[0]}/trainings"):
        assert client.get(url, params={"limit": 1}, headers=alice.headers).status_code == 200, url
        assert client.get(url, params={"offset": 10**30}, headers=alice.headers).status_code == 422, url
    sessions = client.get("/api/auth/sessions", params={"limit": 1}, headers=alice.headers).json()
    assert len(sessions) == 1


def test_an_extraction_without_a_body_takes_all_scans(client, alice) -> None:
    project = new_project(client, alice)
    scans = upload_files(client, alice, project["id"], ("a.png", png(grid_page(seed=1))),
                         ("b.png", png(grid_page(seed=2))))
    url = f"/api/projects/{project['id']}/extractions"
    for kwargs in ({}, {"json": {}}, {"json": {"scan_ids": None}}):
        answer = client.post(url, headers=alice.headers, **kwargs)
        assert answer.status_code == 202, (kwargs, answer.text)
        assert answer.json()["params"]["scan_ids"] == sorted(scan["id"] for scan in scans)
    assert client.post(url, json={"scan_ids": []}, headers=alice.headers).status_code == 422


def test_other_methods_answer_405_with_every_allowed_one(client, alice) -> None:
    cases = {("PUT", "/api/projects"): "GET, POST", ("PUT", "/api/projects/1"): "GET, PATCH, DELETE",
             ("DELETE", "/api/auth/sessions/end-others"): "POST", ("GET", "/api/auth/sessions/end-others"): "POST",
             ("POST", "/"): "GET, HEAD"}
    for (method, path), allowed in cases.items():
        answer = client.request(method, path, headers=alice.headers)
        assert answer.status_code == 405, (method, path)
        assert answer.headers["allow"] == allowed, (method, path)
        assert answer.json()["code"] == "method_not_allowed"


def test_a_body_that_cannot_be_read_is_a_422_in_the_error_shape(client, alice) -> None:
    answer = client.post("/api/projects", content=b"\xff\xfe\x00", headers=alice.headers | {
        "Content-Type": "application/json"})
    assert answer.status_code == 422
    assert set(answer.json()) >= {"detail", "code"}
