"""Which routes serve a path, for the OpenAPI document and for the Allow header of a 405.

Starlette's 405 names only the methods of the first route whose path matched, and a path such as
/api/auth/sessions/end-others also matches /api/auth/sessions/{session_id} as text although no session id
could ever be "end-others". Here a route serves a path only if its path parameters are valid too.
"""

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def api_routes(app: FastAPI) -> list[Any]:
    """The app's API routes as OpenAPI sees them (with their routers' prefixes and dependencies): APIRoute
    objects, or FastAPI's route contexts that stand for them (newer FastAPI keeps included routers whole)."""
    iterate = getattr(routing, "iter_route_contexts", None)
    if iterate is None:
        return [route for route in app.routes if isinstance(route, APIRoute)]
    return [context for context in iterate(app.routes) if isinstance(context.original_route, APIRoute)]


def dependants(dependant: Dependant) -> Iterator[Dependant]:
    """A route's dependant and all its dependencies, recursively."""
    yield dependant
    for sub in dependant.dependencies:
        yield from dependants(sub)


def _serves(route: Any, path: str) -> bool:
    match = route.path_regex.match(path)
    if match is None:
        return False
    values = match.groupdict()
    for dependant in dependants(route.dependant):
        for field in dependant.path_params:
            if field.alias in values:
                _, errors = field.validate(values[field.alias], {}, loc=("path", field.alias))
                if errors:
                    return False
    return True


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """The methods that some route answers at the path of `scope`."""
    path = scope["path"]
    root_path = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :] or "/"
    allowed: set[str] = set()
    for route in api_routes(app):
        if _serves(route, path):
            allowed |= set(route.methods or ())
    for other in app.router.routes:  # the docs pages, the web app's files
        if isinstance(other, APIRoute) or hasattr(other, "original_router"):
            continue
        allowed |= {m for m in METHODS if other.matches({**scope, "method": m})[0] is Match.FULL}
    return [method for method in METHODS if method in allowed]
