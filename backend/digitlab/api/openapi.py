"""The OpenAPI document tells the truth: one error shape, every status a route can answer, real media types.

Statuses are documented centrally, from what each route is, not by hand in every router:

- a route that needs a login can answer 401;
- a route with ids in its path can answer 404 (also for other users' things, and for ids that cannot exist);
- a route with query parameters or a body can answer 422, with a body also 413 (too large), with a file
  upload also 415 (a type it cannot read);
- statuses that follow from domain rules (409, 403, 429, 507 ...) come from the dependencies a route uses
  (DEPENDENCY_ERRORS: a finished training, a rate limiter, an upload) or its name (DOMAIN_ERRORS), as the
  kinds of digitlab.core.errors raised, turned into statuses by the same table (digitlab.api.errors.STATUS)
  that turns them into answers.

Every one of them answers {"detail": str, "code": str} (the `Error` component); FastAPI's own validation
error schema is not used because its handler is replaced (digitlab.api.errors). Downloads declare their media
types (BINARY_RESPONSES).
"""

from collections.abc import Callable
from typing import Any, get_args

from fastapi import FastAPI, params
from fastapi.security.base import SecurityBase

from digitlab.api.deps import CurrentUser, FinishedTrainingDep, ReadableFinishedTrainingDep
from digitlab.api.errors import STATUS
from digitlab.api.methods import api_routes, dependants
from digitlab.api.uploads import DatasetFile, ScanFiles
from digitlab.auth.router import LimiterDep
from digitlab.core.errors import ErrorKind


def dependency_call(alias: Any) -> Callable[..., Any]:
    """The function behind an `Annotated[..., Depends(function)]` alias."""
    call = next(meta.dependency for meta in get_args(alias)[1:] if isinstance(meta, params.Depends))
    assert call is not None, alias
    return call


ERROR_SCHEMA_NAME = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_SCHEMA_NAME,
    "type": "object",
    "description": "Every 4xx answer. `detail` is a sentence for a person, `code` a stable word for programs; some "
    "errors add fields (the file, the layer or the list of validation errors concerned).",
    "required": ["detail", "code"],
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, in a sentence for a student"},
        "code": {"type": "string", "description": "A stable machine word, e.g. not_found, validation_error"},
        "errors": {
            "type": "array",
            "description": "422 for a malformed request: each field that is wrong",
            "items": {"type": "object"},
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    401: "Not logged in, or the token has expired or is not valid",
    403: "Logged in, but not allowed to do this (or a one-time password must be replaced first)",
    404: "No such thing (also another user's things, whose existence is never revealed)",
    409: "Clashes with the current state (a duplicate, something not finished yet, ...)",
    413: "Too large (the request, a file, a page count, or the storage quota)",
    415: "A file of a type that cannot be read",
    422: "The request is malformed or its content makes no sense",
    429: "Too many attempts: wait the Retry-After seconds and try again",
    507: "The server's storage is full",
}

# Statuses that follow from a route's domain rules, as the kinds of error it raises: by the dependencies it
# uses (wherever a route uses one, it can answer so) ...
DEPENDENCY_ERRORS: dict[Callable[..., Any], set[ErrorKind]] = {
    dependency_call(FinishedTrainingDep): {ErrorKind.CONFLICT},  # the training has not succeeded (yet)
    dependency_call(ReadableFinishedTrainingDep): {ErrorKind.CONFLICT},
    dependency_call(LimiterDep): {ErrorKind.RATE_LIMITED},  # logins, registrations, password changes
    # a one-time password (login card) must be replaced first; teachers' and admins' routes
    dependency_call(CurrentUser): {ErrorKind.FORBIDDEN},
    dependency_call(ScanFiles): {ErrorKind.INSUFFICIENT_STORAGE, ErrorKind.QUOTA_EXCEEDED},
    dependency_call(DatasetFile): {ErrorKind.INSUFFICIENT_STORAGE, ErrorKind.QUOTA_EXCEEDED},
}
# ... and by route name, for what its service decides.
DOMAIN_ERRORS: dict[str, set[ErrorKind]] = {
    "register": {ErrorKind.CONFLICT},  # the username is taken
    "login": {ErrorKind.NOT_AUTHENTICATED},  # wrong username or password
    "login_form": {ErrorKind.NOT_AUTHENTICATED},
    "logout": {ErrorKind.FORBIDDEN},  # an API token cannot log out (it is revoked instead)
    "change_password": {ErrorKind.FORBIDDEN},  # only from a web session
    "create_api_token": {ErrorKind.FORBIDDEN},  # only from a web session
    "update_project": {ErrorKind.CONFLICT},  # the labels are locked once there are samples
    "upload_scans": {ErrorKind.CONFLICT},  # the same file twice
    "add_example_scans": {ErrorKind.CONFLICT},  # added already; a project of other labels than the digits
    "start_label_check": {ErrorKind.CONFLICT},  # too few samples to check
    "import_dataset": {ErrorKind.CONFLICT},  # the same data set twice
    "cancel_job": {ErrorKind.CONFLICT},  # already finished
    "cancel_training": {ErrorKind.CONFLICT},
    # trainings on a class data set: the class has none, or is closed
    "start_training": {ErrorKind.CONFLICT},
    "network_summary": {ErrorKind.CONFLICT},
    "build_class_dataset": {ErrorKind.CONFLICT},  # the class is closed
    "evaluate_on_other_writers": {ErrorKind.CONFLICT},  # no data set, not finished, trained on it, class closed
    "set_challenge": {ErrorKind.CONFLICT},  # the class is closed
    "score_on_challenge": {ErrorKind.CONFLICT},  # no challenge, other labels, not finished, class closed
    "redeem_teacher_invite": {ErrorKind.CONFLICT},  # already a teacher
    "revoke_teacher_invite": {ErrorKind.CONFLICT},  # already used
    "join_class": {ErrorKind.CONFLICT},  # the class is closed, already a member
    "look_up_join_code": {ErrorKind.CONFLICT},  # the class is closed
    "join_with_new_account": {ErrorKind.CONFLICT},  # the class is closed, the username is taken
    "leave_class": {ErrorKind.CONFLICT},  # the last teacher, an account made for the class
    "add_teacher": {ErrorKind.CONFLICT},  # already a member
    "remove_member": {ErrorKind.CONFLICT},  # the last teacher
    "create_students": {ErrorKind.CONFLICT},  # the class is closed, a username is taken
    "create_join_code": {ErrorKind.CONFLICT},  # the class is closed, too many active codes
    "delete_my_account": {ErrorKind.CONFLICT},  # the only teacher of a class
    "upload_bulk_scans": {ErrorKind.CONFLICT},  # the class is closed, the same pages by two requests at once
    # the class is closed, the page's code names another project, the page is there already; the student's storage
    "assign_unassigned_page": {
        ErrorKind.CONFLICT,
        ErrorKind.QUOTA_EXCEEDED,
        ErrorKind.INSUFFICIENT_STORAGE,
    },
}

_BINARY = {"type": "string", "format": "binary"}
# Route name -> media types of its 200 answer (routes that answer files rather than JSON).
BINARY_RESPONSES: dict[str, dict[str, dict[str, Any]]] = {
    "sheet_pdf": {"application/pdf": _BINARY},
    "download_original": dict.fromkeys(("image/png", "image/jpeg", "image/tiff", "application/pdf"), _BINARY),
    "thumbnail": {"image/jpeg": _BINARY},
    "preview": {"image/jpeg": _BINARY},
    "page_image": {"image/jpeg": _BINARY},  # the page to place the grid's corners on by hand
    "cell_cutout": {"image/png": _BINARY},  # one cell as it is on the page (why it was kept or dropped)
    "cell_image": {"image/png": _BINARY},
    "label_sheet": {"image/png": _BINARY},
    # mnist.npz (a NumPy archive) or a zip of PNGs, by ?format=
    "export_dataset": {"application/octet-stream": _BINARY, "application/zip": _BINARY},
    # model.onnx and model.keras, or card.json
    "download_model": {"application/octet-stream": _BINARY, "application/json": {"type": "object"}},
    "create_students": {"application/pdf": _BINARY},  # login cards
    "reset_student_password": {"application/pdf": _BINARY},
    "join_code_qr": {"image/svg+xml": _BINARY},
    "export_my_data": {"application/zip": _BINARY},  # everything of an account (privacy)
    "export_student_data": {"application/zip": _BINARY},
    "unassigned_page_thumbnail": {"image/jpeg": _BINARY},  # a page in a class's tray (class_scans)
    "unassigned_page_preview": {"image/jpeg": _BINARY},
}


def needs_login(route: Any) -> bool:
    return any(isinstance(sub.call, SecurityBase) for sub in dependants(route.dependant))


def _params(route: Any, kind: str) -> list:
    return [field for sub in dependants(route.dependant) for field in getattr(sub, f"{kind}_params")]


def route_statuses(route: Any, operation: dict[str, Any]) -> set[int]:
    """The error statuses a route can answer (`operation`: its part of the generated document)."""
    statuses: set[int] = set()
    body = operation.get("requestBody")
    if needs_login(route):
        statuses.add(401)
    if _params(route, "path"):
        statuses.add(404)
    if body or any(_params(route, kind) for kind in ("query", "header", "cookie")):
        statuses.add(422)
    if body:
        statuses.add(413)
        if "multipart/form-data" in body.get("content", {}):
            statuses.add(415)
    kinds = set(DOMAIN_ERRORS.get(route.name, ()))
    for dependant in dependants(route.dependant):
        kinds |= DEPENDENCY_ERRORS.get(dependant.call, set()) if dependant.call else set()
    return statuses | {STATUS[kind] for kind in kinds}


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS.get(status, "Error"),
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}}},
    }
    if status == 429:
        response["headers"] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
    return response


def document(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's generated document: error statuses and their shape, binary media types."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[ERROR_SCHEMA_NAME] = ERROR_SCHEMA
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation["responses"]
            responses.pop("422", None)  # FastAPI's HTTPValidationError, if it added one
            for status in sorted(route_statuses(route, operation)):
                responses[str(status)] = _error_response(status)
            if route.name in BINARY_RESPONSES:
                success = responses[str(route.status_code or 200)]
                success["content"] = {media: {"schema": body} for media, body in BINARY_RESPONSES[route.name].items()}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    _add_links(app, schema)
    return schema


# What a creating route's answer identifies, as OpenAPI runtime expressions by path parameter name: from these,
# links lead to every operation on what was created (for clients, and for the fuzzer's stateful phase).
CREATES: dict[str, dict[str, str]] = {
    "create_project": {"project_id": "$response.body#/id"},
    "upload_scans": {"project_id": "$request.path.project_id", "scan_id": "$response.body#/0/id"},
    "start_extraction": {"job_id": "$response.body#/id"},
    "start_training": {"project_id": "$request.path.project_id", "training_id": "$response.body#/id"},
    "create_api_token": {"token_id": "$response.body#/id"},
    "create_teacher_invite": {"invite_id": "$response.body#/id"},
    "create_class": {"class_id": "$response.body#/id"},
    "create_join_code": {"class_id": "$request.path.class_id", "code_id": "$response.body#/id"},
    # a bulk upload's first page, when it waits in the tray (a routed page's id is null there)
    "upload_bulk_scans": {
        "class_id": "$request.path.class_id",
        "page_id": "$response.body#/pages/0/unassigned_page_id",
    },
}


def _add_links(app: FastAPI, schema: dict[str, Any]) -> None:
    operations = []  # (route name, path parameters, operation, its success status)
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        for method in sorted(route.methods):
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                path_params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                operations.append((route.name, path_params, operation, str(route.status_code or 200)))
    for name, _, creator, status in operations:
        if name not in CREATES:
            continue
        given = CREATES[name]
        created = next(param for param, value in given.items() if value.startswith("$response"))
        links = {
            target["operationId"]: {
                "operationId": target["operationId"],
                "parameters": {param: given[param] for param in sorted(params)},
            }
            for target_name, params, target, _ in operations
            if target_name != name and created in params and params <= set(given)
        }
        if links:
            creator["responses"][status]["links"] = links


def install_openapi(app: FastAPI) -> None:
    """Make app.openapi() (and so /openapi.json, /docs) return the rewritten document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app, generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
