"""Hardening point 8: what the server shows besides the API. Only the web app's public files, whatever the path's
spelling; security headers on every answer; no token in the access log; a data folder no one else can read.
The same file list and headers for nginx (frontend/nginx.conf), run for real where nginx is installed."""

import base64
import hashlib
import http.client
import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from digitlab.api.headers import app_policy
from digitlab.core.redact import redact
from digitlab.main import create_app
from digitlab.web import DEFAULT_FRONTEND_DIR, VENDOR_FILES, public_files
from tests.api.live import LiveService, free_port, live_service, request
from tests.conftest import PASSWORD, make_settings
from tests.lti.lti_tool import running_tool

FRONTEND = DEFAULT_FRONTEND_DIR
HAS_VENDOR = (FRONTEND / "node_modules" / "uplot").is_dir()

# Paths that once returned files that are not part of the web app (issue 8), and more spellings of the same.
HIDDEN = [
    "/./package.json",
    "/src/../package.json",
    "/%2e/nginx.conf",
    "/%2E%2E/frontend/package.json",
    "/src/%2e%2e/package-lock.json",
    "//package.json",
    "/package.json",
    "/package-lock.json",
    "/nginx.conf",
    "/node_modules/uplot/package.json",
    "/node_modules/onnxruntime-web/dist/ort.min.js",
    "/vendor/ort/../../package.json",
    "/vendor/ort/ort.min.js",  # in the vendored folder, but not a file the app loads
    "/vendor/uplot/uPlot.iife.js",
    "/vendor/uplot/../../node_modules/uplot/package.json",
    "/src/",
    "/src",
    "/.git/config",
]


def inline_script_hash(html: str) -> str:
    body = re.search(r"<script type=\"importmap\">(.*?)</script>", html, re.DOTALL)
    assert body, "index.html has its import map inline"
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode() + "'"


def raw_get(base: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """A request with the path exactly as given (HTTP clients remove dot segments before they send)."""
    netloc = urlsplit(base).netloc
    connection = http.client.HTTPConnection(netloc, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with live_service(tmp_path_factory.mktemp("web")) as live:
        yield live


# --- only the public files ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", HIDDEN)
def test_files_outside_the_public_list_are_not_found(service: LiveService, path: str) -> None:
    status, _, body = raw_get(service.base, path)
    assert status == 404, (path, body[:200])
    assert body.startswith(b'{"detail":') and b'"code":"not_found"' in body  # the error, no file content


def test_the_public_files_are_served_with_their_types(service: LiveService) -> None:
    files = public_files(FRONTEND)
    assert {"/", "/index.html", "/styles.css", "/src/main.js"} <= set(files)
    assert all(url.startswith(("/src/", "/vendor/")) or url in ("/", "/index.html", "/styles.css") for url in files)
    for url, path in files.items():
        status, headers, body = raw_get(service.base, url)
        assert status == 200, url
        assert body == path.read_bytes(), url
        expected = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript",
                    ".wasm": "application/wasm"}[path.suffix]
        assert headers["content-type"].startswith(expected), (url, headers["content-type"])
    status, headers, body = raw_get(service.base, "/src/main.js", "HEAD")
    assert status == 200 and body == b""


def test_the_public_list_is_the_app_its_modules_and_the_vendored_browser_files() -> None:
    files = public_files(FRONTEND)
    modules = {"/" + p.relative_to(FRONTEND).as_posix() for p in (FRONTEND / "src").rglob("*.js")}
    assert modules <= set(files)
    if HAS_VENDOR:
        assert set(VENDOR_FILES) <= set(files)
    # Every vendored file the app loads is in the list: what the inference session imports, what index.html names.
    session = (FRONTEND / "src/inference/session.js").read_text()
    assert "vendor/ort/ort.wasm.min.mjs" in session
    index = (FRONTEND / "index.html").read_text()
    for name in re.findall(r"(vendor/[\w./-]+)", index):
        assert "/" + name in VENDOR_FILES, name


def test_a_new_frontend_folder_serves_only_what_is_public(tmp_path: Path) -> None:
    root = tmp_path / "frontend"
    (root / "src" / "views").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>x</title>")
    (root / "src" / "main.js").write_text("export {};")
    (root / "src" / "views" / "a.js").write_text("export {};")
    (root / "src" / "notes.txt").write_text("secret")
    (root / "package.json").write_text("{}")
    (tmp_path / "outside.js").write_text("secret")
    (root / "src" / "link.js").symlink_to(tmp_path / "outside.js")
    settings = make_settings(tmp_path / "data", frontend_dir=root)
    with TestClient(create_app(settings)) as client:
        assert client.get("/src/views/a.js").status_code == 200
        for path in ("/src/notes.txt", "/package.json", "/src/link.js", "/styles.css", "/vendor/ort/ort.wasm.min.mjs"):
            assert client.get(path).status_code == 404, path
        wrong = client.post("/src/main.js")
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD"


def test_without_a_frontend_the_root_leads_to_the_docs(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", frontend_dir=tmp_path / "none")
    with TestClient(create_app(settings)) as client:
        answer = client.get("/", follow_redirects=False)
        assert answer.status_code in (302, 307) and answer.headers["location"] == "/docs"
        assert client.get("/index.html").status_code == 404


# --- headers --------------------------------------------------------------------------------------------------
def test_every_answer_carries_the_security_headers(client: TestClient, alice) -> None:
    index = (FRONTEND / "index.html").read_text()
    answers = [client.get("/"), client.get("/src/main.js"), client.get("/api/health"), client.get("/api/projects"),
               client.get("/nothing"), client.get("/api/projects", headers=alice.headers),
               client.put("/api/projects", headers=alice.headers)]
    for answer in answers:
        policy = answer.headers["content-security-policy"]
        assert policy == app_policy([inline_script_hash(index)]), answer.request.url
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"


def test_every_answer_says_how_long_the_service_took(client: TestClient, alice) -> None:
    """Server-Timing tells a slow answer's time in the service from time lost on the way (benchmarks/load_class.py
    prints both)."""
    answers = [client.get("/"), client.get("/api/health"), client.get("/api/projects"),
               client.get("/api/projects", headers=alice.headers), client.post("/api/projects", json={})]
    for answer in answers:
        name, _, duration = answer.headers["server-timing"].partition(";dur=")
        assert name == "app" and 0 <= float(duration) < 60_000, answer.headers["server-timing"]


def test_the_policy_allows_only_this_origin_and_the_app_needs_nothing_else() -> None:
    policy = dict(part.split(" ", 1) for part in app_policy(["'sha256-x'"]).split("; "))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self' 'wasm-unsafe-eval' 'sha256-x'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert "*" not in app_policy(["'sha256-x'"])
    # The app has no inline style or event-handler attribute a policy without 'unsafe-inline' would block, and
    # its only inline script is the import map (allowed by its hash).
    index = (FRONTEND / "index.html").read_text()
    assert not re.search(r"\sstyle=|\son\w+=|<style", index)
    assert len(re.findall(r"<script(?![^>]*\ssrc=)", index)) == 1
    for module in (FRONTEND / "src").rglob("*.js"):
        text = module.read_text()
        assert not re.search(r"setAttribute\(\s*[\"']style|\beval\(|new Function\(", text), module


def test_answers_that_carry_tokens_are_never_cached(client: TestClient, alice) -> None:
    login = client.post("/api/auth/login", json={"username": "alice", "password": PASSWORD})
    created = client.post("/api/auth/api-tokens", json={"name": "moodle"}, headers=alice.headers)
    assert login.status_code == 200 and created.status_code == 201
    for answer in (login, created, client.get("/api/auth/me", headers=alice.headers), client.get("/api/nothing")):
        assert answer.headers["cache-control"] == "no-store"
    # The app's files may be cached, but are checked again each time (a new version is picked up at once).
    assert client.get("/").headers["cache-control"] == "no-cache"


def test_the_docs_pages_load_their_scripts_from_this_server(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        answer = client.get(page)
        assert answer.status_code == 200
        html = answer.text
        assert "cdn" not in html.lower() and "https://" not in html and "http://" not in html, page
        scripts = re.findall(r"<script[^>]*src=\"([^\"]+)\"", html)
        styles = re.findall(r"<link[^>]*href=\"([^\"]+)\"", html)
        assert scripts, page
        for url in scripts + styles:
            assert url.startswith("/docs/assets/"), url
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url
        # Each inline script is allowed by its hash, nothing else inline.
        policy = answer.headers["content-security-policy"]
        for body in re.findall(r"<script>(.*?)</script>", html, re.DOTALL):
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy
        assert "'unsafe-eval'" not in policy and "frame-ancestors 'self'" in policy
    assert client.get("/docs/assets/package.json").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 200


# --- the access log -------------------------------------------------------------------------------------------
def test_tokens_in_urls_never_reach_the_access_log(service: LiveService) -> None:
    secrets = {f"SECRET{i}x" for i in range(6)}
    status, _ = request("POST", f"{service.base}/api/auth/register", {"username": "logger", "password": PASSWORD})
    assert status == 201
    urls = [
        "/api/health?token=SECRET0x",
        "/api/health?%74oken=SECRET1x",  # percent-encoded: the server reads `token` just the same
        "/api/projects?limit=5&T%6FKEN=SECRET2x&offset=0",
        "/api/projects/1/trainings/1/ws?token=SECRET3x",  # the old WebSocket URL, as a plain GET
        "/?access_token=SECRET4x",
        "/api/health?%2574oken=SECRET5x",  # encoded twice
    ]
    for url in urls:
        raw_get(service.base, url)
    time.sleep(0.5)
    log = service.log_text()
    leaked = [secret for secret in secrets if secret in log]
    assert leaked == [], log[-3000:]
    assert "Traceback" not in log and "Logging error" not in log, log[-3000:]
    # Every request kept its access line, with the token masked.
    assert log.count('"GET /api/health?token=*** HTTP/1.1" 200') == 3, log[-3000:]
    assert '"GET /api/projects?limit=5&token=***&offset=0 HTTP/1.1" 401' in log
    assert "/ws?token=***" in log and "/?access_token=***" in log


@pytest.mark.parametrize(("text", "expected"), [
    ("GET /a?token=abc HTTP/1.1", "GET /a?token=*** HTTP/1.1"),
    ("GET /a?x=1&%74oken=abc&y=2", "GET /a?x=1&token=***&y=2"),
    ("/a?password=hunter2;code=42", "/a?password=***;code=***"),
    ("/a?label=7&which=all", "/a?label=7&which=all"),
    ("no query here", "no query here"),
])
def test_redact_masks_secret_parameters_however_spelled(text: str, expected: str) -> None:
    assert redact(text) == expected


# --- the data folder ------------------------------------------------------------------------------------------
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_the_data_folder_are_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual default: files 0644, folders 0755
    try:
        data = tmp_path / "data"
        settings = make_settings(data, database_url="")  # the embedded SQLite file, also in the PostgreSQL pass
        with TestClient(create_app(settings)) as client:
            assert client.get("/api/health").status_code == 200
        assert mode(data) == 0o700
        for name in ("digitlab.db", "digitlab.db-wal", "digitlab.db-shm"):
            if (data / name).exists():
                assert mode(data / name) == 0o600, name
        # An older installation's world-readable files are made private at the next start.
        os.chmod(data, 0o755)
        os.chmod(data / "digitlab.db", 0o644)
        with TestClient(create_app(settings)) as client:
            assert client.get("/api/health").status_code == 200
        assert mode(data) == 0o700 and mode(data / "digitlab.db") == 0o600
    finally:
        os.umask(old_umask)


# --- nginx (docker-compose's frontend service) -----------------------------------------------------------------
NGINX_CONF = FRONTEND / "nginx.conf"


def test_nginx_serves_the_same_list_with_the_same_headers() -> None:
    conf = NGINX_CONF.read_text()
    policy = app_policy([inline_script_hash((FRONTEND / "index.html").read_text())])
    assert f'add_header Content-Security-Policy "{policy}" always;' in conf
    # The page itself comes from the api (its policy names the platforms that may frame it).
    assert "location = /            { proxy_pass http://api:8000;" in conf
    assert "location = /index.html  { proxy_pass http://api:8000;" in conf
    assert 'add_header X-Content-Type-Options "nosniff" always;' in conf
    assert 'add_header Referrer-Policy "no-referrer" always;' in conf
    for url in VENDOR_FILES:
        assert f"location = {url} " in conf, url
    assert "try_files $uri" not in conf  # no fallback that serves whatever the path names
    assert "$args" not in conf and "$request_uri" not in conf.split("log_format", 1)[1].split(";", 1)[0]


PLATFORM_ORIGIN = "https://moodle.school.example"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx with frontend/nginx.conf (paths and port moved into a temporary folder), serving a copy of the
    web app laid out as the Dockerfile does, with files next to it that must never be served, in front of a
    real api service with one learning platform registered."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        pytest.skip("nginx is not installed (Debian package nginx-light); the configuration was checked as text")
    if not HAS_VENDOR:
        pytest.skip("frontend/node_modules is missing (npm ci in frontend/)")
    base = tmp_path_factory.mktemp("nginx")
    html, vendor = base / "html", base / "vendor"
    html.mkdir()
    shutil.copy(FRONTEND / "styles.css", html)
    shutil.copytree(FRONTEND / "src", html / "src")
    shutil.copytree(FRONTEND / "node_modules/onnxruntime-web/dist", vendor / "ort")
    shutil.copytree(FRONTEND / "node_modules/uplot/dist", vendor / "uplot")
    for secret in (html / "package.json", html / "nginx.conf", html / "src" / "notes.txt", vendor / "package.json"):
        secret.write_text("secret")
    with running_tool(base / "data") as api:
        admin = api.user("root")  # the instance's first account: its admin
        platform = {"name": "School Moodle", "issuer": PLATFORM_ORIGIN, "client_id": "digitlab", "deployment_ids": ["1"],
                    "auth_login_url": f"{PLATFORM_ORIGIN}/mod/lti/auth.php",
                    "auth_token_url": f"{PLATFORM_ORIGIN}/mod/lti/token.php",
                    "jwks_url": f"{PLATFORM_ORIGIN}/mod/lti/certs.php"}
        registered = api.client.post("/api/lti/platforms", json=platform, headers=admin.headers)
        assert registered.status_code == 201, registered.text
        yield from _run_nginx(base, html, vendor, api.base)


def _run_nginx(base: Path, html: Path, vendor: Path, api_base: str) -> Iterator[str]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    server = (NGINX_CONF.read_text().replace("/usr/share/nginx/html", str(html))
              .replace("/usr/share/nginx/vendor", str(vendor)).replace("listen 80;", f"listen 127.0.0.1:{port};")
              .replace("/var/log/nginx/access.log", str(base / "access.log"))
              .replace("http://api:8000", api_base))
    (base / "server.conf").write_text(server)
    mime = "/etc/nginx/mime.types"
    temp = " ".join(f"{kind}_temp_path {base / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (base / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"daemon off; pid {base / 'nginx.pid'}; error_log {base / 'error.log'};\nevents {{}}\n"
        f"http {{ include {mime}; {temp} include {base / 'server.conf'}; }}\n")
    check = subprocess.run([binary, "-t", "-p", str(base), "-c", str(base / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([binary, "-p", str(base), "-c", str(base / "nginx.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                raw_get(url, "/")
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, (base / "error.log").read_text()
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.parametrize("path", [*HIDDEN, "/src/notes.txt", "/vendor/package.json", "/vendor/ort/package.json"])
def test_nginx_hides_what_is_not_public(nginx: str, path: str) -> None:
    status, _, body = raw_get(nginx, path)
    assert status in (400, 404), (path, status)
    assert b"secret" not in body


def test_nginx_serves_the_public_files_with_types_and_headers(nginx: str) -> None:
    for url, path in public_files(FRONTEND).items():
        status, headers, body = raw_get(nginx, url)
        assert status == 200, url
        assert body == path.read_bytes(), url
        expected = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".mjs": "text/javascript",
                    ".wasm": "application/wasm"}[path.suffix]
        assert headers["content-type"].startswith(expected), (url, headers["content-type"])
        policy = headers["content-security-policy"]
        if path.suffix == ".html":  # the page, from the api: the registered platform may frame it
            assert policy.endswith(f"frame-ancestors 'self' {PLATFORM_ORIGIN}"), (url, policy)
            assert policy.count("frame-ancestors") == 1, (url, policy)  # one policy, not nginx's beside the api's
        else:
            assert policy.endswith("frame-ancestors 'self'"), (url, policy)
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
