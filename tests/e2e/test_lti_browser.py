"""Issue 11 in a real browser: a course page of a learning platform on https://127.0.0.2 embeds Digit Lab
(https://127.0.0.1) in an iframe, as Moodle does; headless Chromium blocks third-party cookies; the student launches
and works through upload, extraction, training and the playground inside the frame. Both servers use certificates
this test makes with trustme; Chromium trusts them by the key's hash (`--ignore-certificate-errors-spki-list`, only
our test key), Python by SSL_CERT_FILE. Screenshots at 1366x768: lti-*.png in test-artifacts/e2e/."""

import base64
import hashlib
import html
import json
import ssl
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.conftest import PASSWORD
from tests.e2e.test_browser import ROOT, _missing, _run_node
from tests.lti.lti_platform import TestPlatform, _handler
from tests.lti.lti_tool import running_tool
from tests.pipeline import synth

PLATFORM_HOST = "127.0.0.2"  # another site than the tool's 127.0.0.1: the frame is third-party


class _TlsServer(ThreadingHTTPServer):
    """The platform over HTTPS; each connection's handshake happens in its own thread (a slow client blocks none)."""

    def __init__(self, address: tuple[str, int], handler, context: ssl.SSLContext) -> None:
        super().__init__(address, handler)
        self.context = context

    def get_request(self):
        connection, address = self.socket.accept()
        return self.context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False), address


class EmbeddingPlatform(TestPlatform):
    """The test platform on https://127.0.0.2 with a course page that shows the tool in an iframe: the frame opens
    the platform's launch page, which posts the third-party-initiated login to the tool (as Moodle does)."""

    def __init__(self, context: ssl.SSLContext, tool_base: str) -> None:
        super().__init__()
        self.server.server_close()  # replaced by the HTTPS server on the other address
        self.tool_base = tool_base
        self.server = _TlsServer((PLATFORM_HOST, 0), _embedding_handler(self), context)
        self.base = self.issuer = f"https://{PLATFORM_HOST}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def course_url(self) -> str:
        return f"{self.base}/course/{self.next_launch.context_id}"


def _embedding_handler(platform: EmbeddingPlatform):
    base_handler = _handler(platform)

    class Handler(base_handler):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path.startswith("/course/"):
                page = (
                    "<!doctype html><meta charset=utf-8><title>Class 8b Informatics</title>"
                    "<body style='margin:0;font-family:sans-serif'>"
                    "<header id='lms' style='height:40px;background:#f98012;color:#fff;padding:8px 16px;"
                    "box-sizing:border-box'>School Moodle · Class 8b Informatics · Digits</header>"
                    "<iframe id='tool' title='Digit Lab' src='/launch-frame' allow='fullscreen'"
                    " style='border:0;display:block;width:100%;height:calc(100vh - 40px)'></iframe>"
                )
                return self._send(200, page, "text/html")
            if path == "/launch-frame":
                fields = {
                    "iss": platform.issuer,
                    "login_hint": "hint-123",
                    "target_link_uri": f"{platform.tool_base}/api/lti/launch",
                    "lti_message_hint": "message-hint",
                    "client_id": platform.client_id,
                    "lti_deployment_id": platform.next_launch.deployment_id,
                }
                inputs = "".join(
                    f"<input type='hidden' name='{name}' value='{html.escape(value)}'>"
                    for name, value in fields.items()
                )
                page = (
                    f"<form method='post' action='{html.escape(platform.tool_base)}/api/lti/login'>{inputs}</form>"
                    "<script>document.forms[0].submit()</script>"
                )
                return self._send(200, page, "text/html")
            return super().do_GET()

    return Handler


def _spki_hash(cert_pem: bytes) -> str:
    """base64(sha256(SubjectPublicKeyInfo)): how Chromium's --ignore-certificate-errors-spki-list names a key."""
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.mark.slow
def test_a_student_works_in_the_platforms_iframe_without_third_party_cookies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if reason := _missing():
        pytest.skip(reason)
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", PLATFORM_HOST)
    ca_file, certfile, keyfile = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    leaf.private_key_pem.write_to_path(str(keyfile))
    for index, blob in enumerate(leaf.cert_chain_pems):
        blob.write_to_path(str(certfile), append=index > 0)
    # The tool fetches the platform's key set over HTTPS, the test talks to the tool over HTTPS: both with httpx,
    # which trusts SSL_CERT_FILE's CA when it makes a client.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(server_context)

    scans = tmp_path / "scans"
    scans.mkdir()
    sheet = synth.render_sheet(dpi=150, seed=5)
    cv2.imwrite(str(scans / "sheet.png"), synth.scan(sheet, seed=5).gray)

    with running_tool(tmp_path / "data", tls=(certfile, keyfile)) as tool:
        admin = tool.user("root")  # the instance's first account: its admin
        with EmbeddingPlatform(server_context, tool.base) as platform:
            platform.tool_jwks_url = tool.url("/api/lti/jwks")  # the admin registers it in the browser (below)
            _run_node(
                "lti_iframe.mjs",
                "--course", platform.course_url,
                "--platform", platform.base,
                "--tool", tool.base,
                "--spki", _spki_hash(leaf.cert_chain_pems[0].bytes()),
                "--scans", str(scans),
                "--out", str(ROOT / "test-artifacts/e2e"),
                "--admin", admin.username, "--password", PASSWORD,
                "--registration", json.dumps(platform.registration_body()),
            )  # fmt: skip
            registered = tool.client.get("/api/lti/platforms", headers=admin.headers).json()
            assert [p["issuer"] for p in registered] == [platform.issuer]
            assert platform.auth_requests, "the launch went through the platform's authorization endpoint"
