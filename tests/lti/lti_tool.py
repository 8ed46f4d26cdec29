"""Digit Lab itself for the LTI tests: the real app on uvicorn on 127.0.0.1 (a thread of the test process), so a
test platform can fetch its JWKS over HTTP; and a scripted browser that goes through login and launch as a real
one would (following the pages, keeping what a browser keeps)."""

import html
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import Session

from digitlab.main import create_app
from tests.api.live import free_port
from tests.conftest import PASSWORD, UserHandle, make_settings
from tests.lti.lti_platform import TestPlatform, auto_post_form


@dataclass
class Tool:
    base: str
    app: object
    engine: object
    client: httpx.Client

    def url(self, path: str) -> str:
        return self.base + path

    def session(self) -> Session:
        return Session(self.engine)  # type: ignore[arg-type]

    def user(self, username: str) -> UserHandle:
        """A registered, logged-in account (the first one on a fresh instance is its admin)."""
        registered = self.client.post("/api/auth/register", json={"username": username, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        login = self.client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        return UserHandle(username, login.json()["access_token"])

    def register(self, admin: UserHandle, platform: TestPlatform, **changes) -> dict:
        response = self.client.post(
            "/api/lti/platforms", json=platform.registration_body() | changes, headers=admin.headers
        )
        assert response.status_code == 201, response.text
        platform.tool_jwks_url = self.url("/api/lti/jwks")
        return response.json()


@contextmanager
def running_tool(data_dir: Path, tls: tuple[Path, Path] | None = None, **overrides) -> Iterator[Tool]:
    """`tls`: (certificate chain, key) files to serve HTTPS with (the test client trusts SSL_CERT_FILE's CA)."""
    app = create_app(make_settings(data_dir, **overrides))
    port = free_port()
    ssl_files = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **ssl_files)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the tool did not start"
        time.sleep(0.05)
    base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            yield Tool(base, app, app.state.engine, client)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


# Fixtures shared by the LTI test modules (each module imports them: one tool, its admin and a platform per module).
@pytest.fixture(scope="module")
def tool(tmp_path_factory) -> Iterator[Tool]:
    with running_tool(tmp_path_factory.mktemp("lti") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def admin(tool: Tool) -> UserHandle:
    admin = tool.user("root")  # the instance's first account: its admin
    assert tool.client.get("/api/auth/me", headers=admin.headers).json()["role"] == "admin"
    return admin


@pytest.fixture(scope="module")
def platform(tool: Tool, admin: UserHandle) -> Iterator[TestPlatform]:
    with TestPlatform() as test_platform:
        tool.register(admin, test_platform)
        yield test_platform


@dataclass
class Browser:
    """What a browser keeps between the pages of a launch. `cookies`: it keeps our login cookie (first party, or
    partitioned in an iframe); `storage`: the page's sessionStorage works. A browser in an iframe with
    third-party cookies blocked has storage but no cookie."""

    tool: Tool
    cookies: bool = False
    storage: bool = True
    session_storage: dict[str, str] = field(default_factory=dict)
    cookie_jar: dict[str, str] = field(default_factory=dict)
    pages: list[httpx.Response] = field(default_factory=list)

    def login(self, platform: TestPlatform, method: str = "GET", **params: str) -> httpx.Response:
        """The platform's third-party-initiated login, then our page's redirect to the platform."""
        query = {
            "iss": platform.issuer,
            "login_hint": "hint-123",
            "target_link_uri": self.tool.url("/api/lti/launch"),
            "lti_message_hint": "message-hint",
            "client_id": platform.client_id,
        } | params
        query = {k: v for k, v in query.items() if v is not None}
        with httpx.Client(timeout=30) as http:
            if method == "GET":
                page = http.get(self.tool.url("/api/lti/login"), params=query)
            else:
                page = http.post(self.tool.url("/api/lti/login"), data=query)
            self.pages.append(page)
            if page.status_code != 200 or "data-secret" not in page.text:
                return page
            data = dict(re.findall(r"data-(url|sid|secret)='([^']*)'", page.text))
            data = {k: html.unescape(v) for k, v in data.items()}
            if self.storage:
                self.session_storage[f"digitlab.lti.{data['sid']}"] = data["secret"]
            if self.cookies:
                for header in page.headers.get_list("set-cookie"):
                    name, value = header.split(";", 1)[0].split("=", 1)
                    self.cookie_jar[name] = value
            return http.get(data["url"])  # the platform's authorization endpoint: its auto-posting form

    def post_launch(self, action: str, fields: dict[str, str]) -> httpx.Response:
        """Post the platform's form to our launch URL, and follow our own pages as a browser would."""
        with httpx.Client(timeout=30) as http:
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookie_jar.items())} if self.cookie_jar else {}
            answer = http.post(action, data=fields, headers=headers)
            self.pages.append(answer)
            if answer.status_code == 200 and "browser_secret" in answer.text:  # our page reads sessionStorage
                sid = html.unescape(re.search(r"data-sid='([^']*)'", answer.text).group(1))  # type: ignore[union-attr]
                values = dict(re.findall(r"name='(\w+)' value='([^']*)'", answer.text))
                values = {k: html.unescape(v) for k, v in values.items()}
                values["browser_secret"] = self.session_storage.pop(f"digitlab.lti.{sid}", "")
                answer = http.post(self.tool.url("/api/lti/launch"), data=values)
                self.pages.append(answer)
            return answer

    def launch(self, platform: TestPlatform, **login_params: str) -> httpx.Response:
        form = self.login(platform, **login_params)
        assert form.status_code == 200, form.text
        return self.post_launch(*auto_post_form(form.text))

    def open_app(self, answer: httpx.Response) -> dict:
        """The web app's side: take the code from the redirect and trade it for a session."""
        assert answer.status_code == 303, (answer.status_code, answer.text[:500])
        location = answer.headers["location"]
        assert location.startswith("/#/lti/"), location
        traded = self.tool.client.post("/api/lti/session", json={"code": location.removeprefix("/#/lti/")})
        assert traded.status_code == 200, traded.text
        return traded.json()


def open_deep_link(engine, user_id: int, platform_id: int) -> int:
    """A deep-linking request of `user_id`'s waiting for their choice, as a launch leaves it (for tests that need
    one without going through a platform, e.g. the route-table access test)."""
    from datetime import timedelta

    from digitlab.core.clock import utcnow
    from digitlab.lti.tables import LtiDeepLink

    with Session(engine) as session:
        request = LtiDeepLink(
            platform_id=platform_id,
            user_id=user_id,
            deployment_id="deployment-1",
            return_url="https://lms.example/deep-link-return",
            accept_lineitem=True,
            expires_at=utcnow() + timedelta(hours=1),
        )
        session.add(request)
        session.commit()
        return request.id


def make_admin(engine, user_id: int) -> None:
    """Give an account back its admin role (tests/api/class_rows.make_class makes every teacher it is given a plain
    teacher, an admin too)."""
    from digitlab.auth.tables import Role, User

    with Session(engine) as session:
        user = session.get(User, user_id)
        user.role = Role.ADMIN
        session.add(user)
        session.commit()
