"""Launches the tool must refuse (IMS Security Framework 5.1.3): each gets a page that says why, in the browser,
and nothing is created (no user, class, membership, project, session, launch code or used nonce)."""

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from digitlab.lti.validation import JWKS_REFETCH_INTERVAL_SECONDS
from tests.lti import lti_tool
from tests.lti.lti_platform import INSTRUCTOR, LTI, Launch, TestPlatform, auto_post_form, new_rsa_key
from tests.lti.lti_tool import Browser

# The fixtures shared by the LTI test modules: this module's tool, its admin and a registered platform.
tool, admin, platform = lti_tool.tool, lti_tool.admin, lti_tool.platform

TABLES = (
    "users",
    "auth_tokens",
    "classes",
    "class_members",
    "projects",
    "lti_users",
    "lti_contexts",
    "lti_activities",
    "lti_nonces",
    "lti_launch_codes",
    "lti_deep_links",
)


def counts(tool) -> dict[str, int]:
    with tool.session() as db:
        return {table: db.exec(text(f"SELECT count(*) FROM {table}")).one()[0] for table in TABLES}  # type: ignore[call-overload]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(fields: dict) -> dict:
    return jwt.decode(fields["id_token"], options={"verify_signature": False})


def resign(platform: TestPlatform, fields: dict, *, drop=(), key=None, kid=None, **changes) -> dict:
    claims = {k: v for k, v in claims_of(fields).items() if k not in drop} | changes
    return fields | {"id_token": platform.sign(claims, key=key, kid=kid)}


def alg_none(platform, fields):
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": platform.kid}).encode())
    return fields | {"id_token": f"{header}.{b64(json.dumps(claims_of(fields)).encode())}."}


def hmac_with_public_key(platform, fields):
    """The classic confusion attack: HS256 with the platform's public key (public, so anyone can do it)."""
    secret = platform.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': platform.kid}).encode())}."
        f"{b64(json.dumps(claims_of(fields)).encode())}"
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return fields | {"id_token": f"{signing_input}.{b64(signature)}"}


TAMPERED = {
    "bad_signature": lambda p, f: resign(p, f, key=new_rsa_key()),  # the platform's kid, another key
    "unknown_kid": lambda p, f: resign(p, f, key=new_rsa_key(), kid="stolen-key"),
    "expired": lambda p, f: resign(p, f, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "issued_in_future": lambda p, f: resign(p, f, iat=int(time.time()) + 3600, exp=int(time.time()) + 7200),
    "wrong_audience": lambda p, f: resign(p, f, aud="another-tool"),
    "wrong_audience_azp": lambda p, f: resign(p, f, aud=[p.client_id, "another-tool"]),  # several, no azp
    "wrong_issuer": lambda p, f: resign(p, f, iss="https://evil.example"),
    "missing_nonce": lambda p, f: resign(p, f, drop=("nonce",)),
    "wrong_nonce": lambda p, f: resign(p, f, nonce="a-nonce-we-never-asked-for"),
    "bad_state": lambda p, f: f | {"state": "not-our-state"},
    "unknown_deployment": lambda p, f: resign(p, f, **{LTI + "deployment_id": "deployment-unknown"}),
    "alg_none": alg_none,
    "hmac_with_public_key": hmac_with_public_key,
    "wrong_message_type": lambda p, f: resign(p, f, **{LTI + "message_type": "LtiSubmissionReviewRequest"}),
    "wrong_version": lambda p, f: resign(p, f, **{LTI + "version": "1.1"}),
    "missing_sub": lambda p, f: resign(p, f, drop=("sub",)),
    "missing_id_token": lambda p, f: {"state": f["state"]},
}
EXPECTED = {
    "wrong_audience_azp": "wrong_audience",
    "alg_none": "bad_algorithm",
    "hmac_with_public_key": "bad_algorithm",
    "missing_id_token": "bad_launch",
}


def assert_refused(answer, code: str, status: int = 400) -> None:
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("text/html")
    assert "Digit Lab could not be opened" in answer.text
    assert f"<code>{code}</code>" in answer.text, answer.text


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_a_tampered_launch_is_refused_with_a_page_and_creates_nothing(tool, platform, case):
    platform.next_launch = Launch(sub=f"victim-{case}")
    browser = Browser(tool)
    form = browser.login(platform)
    action, fields = auto_post_form(form.text)
    before = counts(tool)
    answer = browser.post_launch(action, TAMPERED[case](platform, fields))
    assert_refused(answer, EXPECTED.get(case, case))
    assert counts(tool) == before


def test_an_unknown_kid_makes_the_tool_fetch_the_platforms_keys_again(tool, platform):
    browser = Browser(tool)
    action, fields = auto_post_form(browser.login(platform).text)
    browser.post_launch(action, fields | {})  # caches the key set (a successful launch)
    time.sleep(JWKS_REFETCH_INTERVAL_SECONDS + 0.1)  # refetching on an unknown kid is limited per key set
    fetched = platform.jwks_requests
    action, fields = auto_post_form(browser.login(platform).text)
    assert_refused(browser.post_launch(action, TAMPERED["unknown_kid"](platform, fields)), "unknown_kid")
    assert platform.jwks_requests == fetched + 1


def test_a_rotated_platform_key_is_found_by_fetching_again(tool, platform):
    platform.rotate_key()
    time.sleep(JWKS_REFETCH_INTERVAL_SECONDS + 0.1)  # since the last refetch (the unknown kids above)
    platform.next_launch = Launch(sub="after-rotation")
    assert Browser(tool).launch(platform).status_code == 303


def test_a_replayed_launch_is_refused(tool, platform):
    platform.next_launch = Launch(sub="replayer")
    browser = Browser(tool)
    action, fields = auto_post_form(browser.login(platform).text)
    assert browser.post_launch(action, dict(fields)).status_code == 303
    before = counts(tool)
    assert_refused(Browser(tool).post_launch(action, dict(fields)), "replayed_nonce")
    assert counts(tool) == before


def test_a_state_from_another_login_is_refused(tool, platform):
    browser = Browser(tool)
    _, first = auto_post_form(browser.login(platform).text)
    action, second = auto_post_form(browser.login(platform).text)
    before = counts(tool)
    assert_refused(browser.post_launch(action, second | {"state": first["state"]}), "wrong_nonce")
    assert counts(tool) == before


def test_another_browser_cannot_complete_the_launch(tool, platform):
    """Login CSRF: an attacker's own login, posted from the victim's browser, which never started it."""
    attacker = Browser(tool)
    action, fields = auto_post_form(attacker.login(platform).text)
    victim = Browser(tool, cookies=False, storage=True)  # has no secret for this state
    before = counts(tool)
    assert_refused(victim.post_launch(action, fields), "wrong_browser")
    assert counts(tool) == before


def test_a_browser_that_keeps_nothing_is_told_to_open_a_new_window(tool, platform):
    browser = Browser(tool, cookies=False, storage=False)
    before = counts(tool)
    answer = browser.launch(platform)
    assert_refused(answer, "wrong_browser")
    assert "new window" in answer.text
    assert counts(tool) == before


def test_a_switched_off_platform_is_refused_at_login_and_at_launch(tool, platform, admin):
    browser = Browser(tool)
    action, fields = auto_post_form(browser.login(platform).text)
    platform_id = tool.client.get("/api/lti/platforms", headers=admin.headers).json()[0]["id"]
    off = tool.client.patch(f"/api/lti/platforms/{platform_id}", json={"enabled": False}, headers=admin.headers)
    assert off.status_code == 200 and off.json()["enabled"] is False
    try:
        before = counts(tool)
        assert_refused(browser.post_launch(action, fields), "platform_disabled")
        assert_refused(Browser(tool).login(platform), "platform_disabled")
        assert counts(tool) == before
    finally:
        tool.client.patch(f"/api/lti/platforms/{platform_id}", json={"enabled": True}, headers=admin.headers)


def test_a_platform_whose_keys_cannot_be_fetched_is_refused(tool, admin):
    with TestPlatform(client_id="jwks-down") as down:
        tool.register(admin, down)
        down.jwks_up = False
        before = counts(tool)
        assert_refused(Browser(tool).launch(down), "jwks_unavailable", status=503)
        assert counts(tool) == before


def test_a_learner_cannot_start_deep_linking(tool, platform):
    platform.next_launch = Launch(sub="curious-learner", message_type="LtiDeepLinkingRequest")
    before = counts(tool)
    assert_refused(Browser(tool).launch(platform), "not_teaching")
    assert counts(tool) == before


@pytest.mark.parametrize(
    "params",
    [
        {"iss": "https://unknown.example"},
        {"login_hint": None},
        {"target_link_uri": "https://evil.example/launch"},
        {"lti_deployment_id": "deployment-unknown"},
    ],
)
def test_a_bad_login_request_is_refused(tool, platform, params):
    before = counts(tool)
    answer = Browser(tool).login(platform, **params)
    assert answer.status_code == 400 and "Digit Lab could not be opened" in answer.text
    assert counts(tool) == before


def test_a_platform_error_is_shown(tool):
    answer = tool.client.post(
        "/api/lti/launch", data={"error": "login_required", "error_description": "Please log in to Moodle first."}
    )
    assert answer.status_code == 400 and "Please log in to Moodle first." in answer.text


def test_an_instructor_launch_still_works_after_all_this(tool, platform):
    platform.next_launch = Launch(sub="teacher-after", roles=[INSTRUCTOR])
    assert Browser(tool).launch(platform).status_code == 303
