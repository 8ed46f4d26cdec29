"""A learning platform for the LTI tests: a real HTTP server on 127.0.0.1 (ThreadingHTTPServer) with its own RSA
keys and JWKS, an OIDC authorization endpoint that answers with the auto-posting id_token form, a token endpoint
that checks the tool's signed JWT assertion against the tool's published JWKS, line-item, score and membership
endpoints (AGS, NRPS) that record what they received, the deep-linking return address, and the two endpoints of
dynamic registration (its OpenID configuration and its registration endpoint).

Tests say who launches next (`platform.next_launch`) and can break the platform on purpose: its JWKS down, a
token signed with another key, scores refused a few times, and so on.
"""

import html
import json
import re
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
]
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key, kid: str) -> dict:
    return RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class Launch:
    """Who launches next and from where (the id_token the authorization endpoint will issue)."""

    sub: str | None = "learner-1"
    roles: list[str] = field(default_factory=lambda: [LEARNER])
    context_id: str = "course-7"
    context_title: str = "Class 8b Informatics"
    resource_link_id: str = "link-1"
    message_type: str = "LtiResourceLinkRequest"
    deployment_id: str = "deployment-1"
    custom: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    lineitem: str | None = None  # the AGS line item of the resource link, if the platform made one
    extra: dict[str, Any] = field(default_factory=dict)  # claims added (or replaced) as they are


class TestPlatform:
    __test__ = False  # not a pytest class

    def __init__(self, issuer: str | None = None, client_id: str = "digitlab-client") -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = issuer or self.base
        self.client_id = client_id
        self.key = new_rsa_key()
        self.kid = "platform-key-1"
        self.published: list[dict] = [public_jwk(self.key, self.kid)]
        self.jwks_up = True
        self.jwks_requests = 0
        self.tool_jwks_url: str | None = None
        self.next_launch = Launch()
        self.lock = threading.Lock()
        # What the platform received.
        self.auth_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.lineitems: dict[str, dict] = {}
        self.scores: list[dict] = []
        self.score_failures = 0  # answer 503 to this many score posts first
        self.deep_link_returns: list[dict] = []
        self.registrations: list[dict] = []
        self.members: list[dict] = []
        self.registration_token = secrets.token_urlsafe(16)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- lifecycle ------------------------------------------------------------------------------------------------
    def __enter__(self) -> "TestPlatform":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- its URLs ---------------------------------------------------------------------------------------------------
    @property
    def auth_url(self) -> str:
        return f"{self.base}/auth"

    @property
    def token_url(self) -> str:
        return f"{self.base}/token"

    @property
    def jwks_url(self) -> str:
        return f"{self.base}/jwks"

    @property
    def lineitems_url(self) -> str:
        return f"{self.base}/courses/{self.next_launch.context_id}/lineitems"

    @property
    def memberships_url(self) -> str:
        return f"{self.base}/courses/{self.next_launch.context_id}/memberships"

    def registration_body(self, name: str = "Test Moodle", deployment_ids=("deployment-1",)) -> dict:
        return {
            "name": name,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": list(deployment_ids),
            "auth_login_url": self.auth_url,
            "auth_token_url": self.token_url,
            "jwks_url": self.jwks_url,
        }

    # --- id_tokens --------------------------------------------------------------------------------------------------
    def claims(self, launch: Launch, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            LTI + "message_type": launch.message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": launch.deployment_id,
            LTI + "roles": launch.roles,
            LTI + "target_link_uri": "",
            LTI + "context": {"id": launch.context_id, "title": launch.context_title},
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": self.memberships_url,
                "service_versions": ["2.0"],
            },
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": AGS_SCOPES,
                "lineitems": self.lineitems_url,
                **({"lineitem": launch.lineitem} if launch.lineitem else {}),
            },
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if launch.sub is not None:
            claims["sub"] = launch.sub
        if launch.name:
            claims["name"] = launch.name
        if launch.custom:
            claims[LTI + "custom"] = launch.custom
        if launch.message_type == "LtiResourceLinkRequest":
            claims[LTI + "resource_link"] = {"id": launch.resource_link_id, "title": "Digits"}
        else:
            claims[DL + "deep_linking_settings"] = {
                "deep_link_return_url": f"{self.base}/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_lineitem": True,
                "data": "opaque-platform-data",
            }
        claims.update(launch.extra)
        return claims

    def sign(self, claims: dict, key=None, kid: str | None = None, algorithm: str = "RS256") -> str:
        return jwt.encode(claims, key or self.key, algorithm=algorithm, headers={"kid": kid or self.kid})

    def rotate_key(self) -> None:
        """A new signing key, published alongside the old one (as platforms do)."""
        self.key, self.kid = new_rsa_key(), f"platform-key-{len(self.published) + 1}"
        self.published.append(public_jwk(self.key, self.kid))

    # --- the tool's signatures ---------------------------------------------------------------------------------------
    def verify_tool_jwt(self, token: str, audience: str) -> dict:
        """Check a JWT the tool signed, against the key set the tool publishes (fetched over HTTP)."""
        assert self.tool_jwks_url, "set platform.tool_jwks_url first"
        with urllib.request.urlopen(self.tool_jwks_url, timeout=10) as answer:
            tool_keys = {k["kid"]: k for k in json.loads(answer.read())["keys"]}
        kid = jwt.get_unverified_header(token)["kid"]
        key = RSAAlgorithm.from_jwk(tool_keys[kid])
        return jwt.decode(token, key, algorithms=["RS256"], audience=audience)  # type: ignore[arg-type]


def _handler(platform: TestPlatform):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(
            self,
            status: int,
            body: Any = None,
            content_type: str = "application/json",
            headers: dict[str, str] | None = None,
        ) -> None:
            data = (
                body
                if isinstance(body, bytes)
                else (
                    body.encode() if isinstance(body, str) else json.dumps(body).encode() if body is not None else b""
                )
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _form(self) -> dict[str, str]:
            return {k: v[0] for k, v in parse_qs(self._body().decode()).items()}

        def _bearer_scopes(self) -> set[str] | None:
            auth = self.headers.get("Authorization", "")
            with platform.lock:
                for request in platform.token_requests:
                    if auth == f"Bearer {request['access_token']}":
                        return set(request["scope"].split())
            return None

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/jwks":
                platform.jwks_requests += 1
                if not platform.jwks_up:
                    return self._send(503, {"error": "down"})
                return self._send(200, {"keys": platform.published})
            if url.path == "/auth":
                return self._authorize(query)
            if url.path == "/.well-known/openid-configuration":
                return self._send(
                    200,
                    {
                        "issuer": platform.issuer,
                        "authorization_endpoint": platform.auth_url,
                        "token_endpoint": platform.token_url,
                        "jwks_uri": platform.jwks_url,
                        "registration_endpoint": f"{platform.base}/register",
                        "scopes_supported": ["openid", *AGS_SCOPES, NRPS_SCOPE],
                        "response_types_supported": ["id_token"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                            "product_family_code": "moodle",
                            "version": "4.5",
                            "messages_supported": [
                                {"type": "LtiResourceLinkRequest"},
                                {"type": "LtiDeepLinkingRequest"},
                            ],
                        },
                    },
                )
            if match := re.fullmatch(r"/courses/([^/]+)/memberships", url.path):
                if NRPS_SCOPE not in (self._bearer_scopes() or set()):
                    return self._send(401, {"error": "invalid_token"})
                return self._send(
                    200,
                    {"id": self.path, "context": {"id": match.group(1)}, "members": platform.members},
                    "application/vnd.ims.lti-nrps.v2.membershipcontainer+json",
                )
            if re.fullmatch(r"/courses/[^/]+/lineitems", url.path):
                if self._bearer_scopes() is None:
                    return self._send(401, {"error": "invalid_token"})
                items = [
                    item
                    for item in platform.lineitems.values()
                    if "resource_link_id" not in query or item.get("resourceLinkId") == query["resource_link_id"]
                ]
                return self._send(200, items, "application/vnd.ims.lis.v2.lineitemcontainer+json")
            return self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/token":
                return self._token(self._form())
            if url.path == "/deep-link-return":
                form = self._form()
                claims = platform.verify_tool_jwt(form["JWT"], audience=platform.issuer)
                platform.deep_link_returns.append(claims)
                return self._send(200, "<p>added</p>", "text/html")
            if url.path == "/register":
                return self._register()
            if re.fullmatch(r"/courses/[^/]+/lineitems", url.path):
                if "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem" not in (self._bearer_scopes() or set()):
                    return self._send(401, {"error": "invalid_token"})
                item = json.loads(self._body())
                item_id = f"{platform.base}{url.path}/{len(platform.lineitems) + 1}"
                item["id"] = item_id
                platform.lineitems[item_id] = item
                return self._send(201, item, "application/vnd.ims.lis.v2.lineitem+json")
            if re.fullmatch(r"/courses/[^/]+/lineitems/\d+/scores", url.path):
                if "https://purl.imsglobal.org/spec/lti-ags/scope/score" not in (self._bearer_scopes() or set()):
                    return self._send(401, {"error": "invalid_token"})
                score = json.loads(self._body())
                with platform.lock:
                    if platform.score_failures > 0:
                        platform.score_failures -= 1
                        return self._send(503, {"error": "try later"})
                    platform.scores.append({"lineitem": platform.base + url.path[: -len("/scores")], **score})
                return self._send(200, {})
            return self._send(404, {"error": "not found"})

        def _authorize(self, query: dict[str, str]) -> None:
            platform.auth_requests.append(query)
            problems = []
            if query.get("client_id") != platform.client_id:
                problems.append("client_id")
            for name, value in (
                ("response_type", "id_token"),
                ("response_mode", "form_post"),
                ("scope", "openid"),
                ("prompt", "none"),
            ):
                if query.get(name) != value:
                    problems.append(name)
            if not query.get("redirect_uri") or not query.get("state") or not query.get("nonce"):
                problems.append("redirect_uri/state/nonce")
            if problems:
                return self._send(400, f"bad authorization request: {problems}", "text/plain")
            token = platform.sign(platform.claims(platform.next_launch, query["nonce"]))
            page = (
                f"<form method='post' action='{html.escape(query['redirect_uri'])}'>"
                f"<input type='hidden' name='id_token' value='{token}'>"
                f"<input type='hidden' name='state' value='{html.escape(query['state'])}'></form>"
                "<script>document.forms[0].submit()</script>"
            )
            return self._send(200, page, "text/html")

        def _token(self, form: dict[str, str]) -> None:
            if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != (
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            ):
                return self._send(400, {"error": "unsupported_grant_type"})
            try:
                claims = platform.verify_tool_jwt(form.get("client_assertion", ""), audience=platform.token_url)
            except Exception as exc:  # noqa: BLE001 - any failure is the tool's fault here
                return self._send(401, {"error": "invalid_client", "detail": repr(exc)})
            if claims.get("iss") != platform.client_id or claims.get("sub") != platform.client_id:
                return self._send(401, {"error": "invalid_client"})
            with platform.lock:
                if any(r["jti"] == claims.get("jti") for r in platform.token_requests):
                    return self._send(401, {"error": "replayed assertion"})
                access = secrets.token_urlsafe(16)
                platform.token_requests.append(
                    {"jti": claims.get("jti"), "scope": form.get("scope", ""), "access_token": access}
                )
            return self._send(
                200,
                {"access_token": access, "token_type": "Bearer", "expires_in": 3600, "scope": form.get("scope", "")},
            )

        def _register(self) -> None:
            if self.headers.get("Authorization") != f"Bearer {platform.registration_token}":
                return self._send(401, {"error": "bad registration token"})
            registration = json.loads(self._body())
            platform.registrations.append(registration)
            answer = registration | {
                "client_id": platform.client_id,
                "https://purl.imsglobal.org/spec/lti-tool-configuration": registration[
                    "https://purl.imsglobal.org/spec/lti-tool-configuration"
                ]
                | {"deployment_id": "deployment-1"},
            }
            return self._send(200, answer)

    return Handler


def auto_post_form(page: str) -> tuple[str, dict[str, str]]:
    """(action, fields) of the platform's auto-posting form, as a browser would submit it."""
    action = html.unescape(re.search(r"action='([^']*)'", page).group(1))  # type: ignore[union-attr]
    fields = {
        html.unescape(name): html.unescape(value) for name, value in re.findall(r"name='([^']*)' value='([^']*)'", page)
    }
    return action, fields
