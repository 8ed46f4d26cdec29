"""LTI Advantage against the test platform: dynamic registration, the tool's keys, deep linking, grades (AGS)
after a real training with retries, and the roster (NRPS)."""

import json
import time
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from sqlmodel import select

from digitlab.classes.tables import ClassMember
from digitlab.lti.tables import LtiGradeOutbox, LtiUser
from tests.api.trainings import digits, import_samples, start_training, wait_for_training
from tests.conftest import UserHandle, wait_until
from tests.lti import lti_tool
from tests.lti.lti_platform import DL, INSTRUCTOR, LEARNER, LTI, Launch, TestPlatform
from tests.lti.lti_tool import Browser

# The fixtures shared by the LTI test modules: this module's tool, its admin and a registered platform.
tool, admin, platform = lti_tool.tool, lti_tool.admin, lti_tool.platform


def bearer(session: dict) -> UserHandle:
    return UserHandle(session["user"]["username"], session["access_token"])


def test_dynamic_registration_then_a_launch(tool, admin):
    with TestPlatform(client_id="dyn-client") as platform:
        link = tool.client.post("/api/lti/registration-links", headers=admin.headers)
        assert link.status_code == 201
        url = link.json()["url"]
        # The platform opens our address in the admin's browser with its configuration and a registration token.
        # (It adds its parameters to our address, which already has one.)
        opened = tool.client.get(
            url
            + "&"
            + urlencode(
                {
                    "openid_configuration": f"{platform.base}/.well-known/openid-configuration",
                    "registration_token": platform.registration_token,
                }
            )
        )
        assert opened.status_code == 200, opened.text
        assert "org.imsglobal.lti.close" in opened.text
        [sent] = platform.registrations
        assert sent["initiate_login_uri"] == tool.url("/api/lti/login")
        assert sent["jwks_uri"] == tool.url("/api/lti/jwks")
        assert sent["redirect_uris"] == [tool.url("/api/lti/launch")]
        assert sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]["claims"] == ["iss", "sub"]
        [registered] = [
            p
            for p in tool.client.get("/api/lti/platforms", headers=admin.headers).json()
            if p["client_id"] == "dyn-client"
        ]
        assert registered["issuer"] == platform.issuer and registered["deployment_ids"] == ["deployment-1"]
        assert registered["jwks_url"] == platform.jwks_url
        # The address is single use.
        again = tool.client.get(
            url
            + "&"
            + urlencode(
                {
                    "openid_configuration": f"{platform.base}/.well-known/openid-configuration",
                    "registration_token": platform.registration_token,
                }
            )
        )
        assert again.status_code == 400 and "already used" in again.text
        platform.tool_jwks_url = tool.url("/api/lti/jwks")
        platform.next_launch = Launch(sub="dyn-learner", context_id="dyn-course")
        assert Browser(tool).launch(platform).status_code == 303
        # Framing: the registered platform's origin may show the app in an iframe, and no one else.
        policy = tool.client.get("/").headers["content-security-policy"]
        ancestors = next(d for d in policy.split(";") if d.strip().startswith("frame-ancestors"))
        assert platform.base in ancestors and "*" not in ancestors


def test_the_tools_keys_rotate_and_the_old_key_stays_published(tool, admin):
    before = tool.client.get("/api/lti/jwks").json()["keys"]
    assert before and all("d" not in key and "p" not in key for key in before)  # public parts only
    rotated = tool.client.post("/api/lti/keys/rotate", headers=admin.headers)
    assert rotated.status_code == 201
    after = tool.client.get("/api/lti/jwks").json()["keys"]
    assert {k["kid"] for k in before} < {k["kid"] for k in after}
    assert rotated.json()["kid"] in {k["kid"] for k in after}
    listed = tool.client.get("/api/lti/keys", headers=admin.headers).json()
    assert [k["retired_at"] is None for k in listed].count(True) == 1
    assert all(set(k) == {"kid", "created_at", "retired_at", "drop_after"} for k in listed)


def test_admin_routes_refuse_teachers_and_students(tool, admin):
    student = tool.user("not-an-admin")
    for method, path, body in [
        ("GET", "/api/lti/platforms", None),
        ("POST", "/api/lti/registration-links", None),
        ("POST", "/api/lti/keys/rotate", None),
        ("GET", "/api/lti/tool", None),
        (
            "POST",
            "/api/lti/platforms",
            TestPlatform.__new__(TestPlatform)
            and {
                "name": "x",
                "issuer": "https://x.example",
                "client_id": "x",
                "deployment_ids": ["1"],
                "auth_login_url": "https://x.example/a",
                "auth_token_url": "https://x.example/t",
                "jwks_url": "https://x.example/j",
            },
        ),
    ]:
        answer = tool.client.request(method, path, json=body, headers=student.headers)
        assert answer.status_code == 403 and answer.json()["code"] == "admins_only", (method, path)
    tool_config = tool.client.get("/api/lti/tool", headers=admin.headers).json()
    assert tool_config["login_url"] == tool.url("/api/lti/login")


def test_deep_linking_then_students_launch_the_chosen_activity(tool, platform):
    platform.next_launch = Launch(
        sub="dl-teacher", roles=[INSTRUCTOR], context_id="dl-course", message_type="LtiDeepLinkingRequest"
    )
    teacher = Browser(tool)
    session = teacher.open_app(teacher.launch(platform))
    assert session["target"].startswith("/lti/deep-link/")
    deep_link_id = int(session["target"].rsplit("/", 1)[1])
    headers = bearer(session).headers
    assert tool.client.get(f"/api/lti/deep-links/{deep_link_id}", headers=headers).json()["accept_lineitem"]
    labels = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"]
    answer = tool.client.post(
        f"/api/lti/deep-links/{deep_link_id}",
        headers=headers,
        json={
            "kind": "symbols",
            "title": "Own symbols",
            "labels": labels,
            "grading": "progress",
            "accuracy_threshold": 0.5,
        },
    )
    assert answer.status_code == 200, answer.text
    # The browser posts the signed answer to the platform, which checks it against our published keys.
    returned = httpx.post(answer.json()["return_url"], data={"JWT": answer.json()["jwt"]})
    assert returned.status_code == 200
    [claims] = platform.deep_link_returns
    assert claims["iss"] == platform.client_id and claims["aud"] == platform.issuer
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[DL + "data"] == "opaque-platform-data"
    [item] = claims[DL + "content_items"]
    assert item["type"] == "ltiResourceLink" and item["url"] == tool.url("/api/lti/launch")
    assert item["lineItem"]["scoreMaximum"] == 4
    assert json.loads(item["custom"]["digitlab_labels"]) == labels
    # Answered once only.
    assert (
        tool.client.post(
            f"/api/lti/deep-links/{deep_link_id}", headers=headers, json={"kind": "digits", "title": "x"}
        ).status_code
        == 404
    )
    # A student launching the link gets a symbols project with those labels.
    platform.next_launch = Launch(
        sub="dl-student", context_id="dl-course", resource_link_id="dl-link", custom=item["custom"]
    )
    student = Browser(tool)
    student_session = student.open_app(student.launch(platform))
    project = tool.client.get(
        f"/api/projects/{student_session['target'].rsplit('/', 1)[1]}", headers=bearer(student_session).headers
    ).json()
    assert project["labels"] == labels and project["name"] == "Digits"


def test_another_teacher_cannot_answer_a_deep_link(tool, platform):
    platform.next_launch = Launch(
        sub="dl-teacher-2", roles=[INSTRUCTOR], context_id="dl-course", message_type="LtiDeepLinkingRequest"
    )
    browser = Browser(tool)
    session = browser.open_app(browser.launch(platform))
    deep_link_id = int(session["target"].rsplit("/", 1)[1])
    other = tool.user("other-teacher")
    assert tool.client.get(f"/api/lti/deep-links/{deep_link_id}", headers=other.headers).status_code == 404
    assert (
        tool.client.post(
            f"/api/lti/deep-links/{deep_link_id}", headers=other.headers, json={"kind": "digits", "title": "x"}
        ).status_code
        == 404
    )


@pytest.mark.slow
def test_a_training_sends_the_progress_grade_once_even_when_the_platform_fails(tool, platform):
    custom = {"digitlab_activity": "digits", "digitlab_grading": "progress", "digitlab_threshold": "0"}
    platform.next_launch = Launch(
        sub="graded-student", context_id="graded-course", resource_link_id="graded-link", custom=custom
    )
    browser = Browser(tool)
    session = browser.open_app(browser.launch(platform))
    student = bearer(session)
    project_id = int(session["target"].rsplit("/", 1)[1])

    def scores_of(sub):
        return [s for s in platform.scores if s["userId"] == sub]

    # The first launch is worth 0 of 4 (the platform creates no line item here: the tool makes one).
    first = wait_until(lambda: scores_of("graded-student"), bool, 30, "the first score")
    assert first[0]["scoreGiven"] == 0 and first[0]["scoreMaximum"] == 4
    assert first[0]["activityProgress"] == "Initialized", (first, platform.lineitems)
    platform.score_failures = 2  # the platform is down for the next two tries
    x, y = digits(5, seed=3)
    import_samples(tool.client, student, project_id, x, y)
    training = wait_for_training(
        tool.client, student, start_training(tool.client, student, project_id, architecture="mlp", epochs=1)
    )
    assert training["status"] == "succeeded"
    # Trained, and at or above the threshold: 2 of 4 (imported samples are not extracted scans).
    scores = wait_until(lambda: scores_of("graded-student"), lambda s: len(s) >= 2, 90, "the score after training")
    assert scores[-1]["scoreGiven"] == 2 and scores[-1]["activityProgress"] == "InProgress"
    with tool.session() as db:
        link = db.exec(select(LtiUser).where(LtiUser.subject == "graded-student")).one()
        rows = db.exec(select(LtiGradeOutbox).where(LtiGradeOutbox.user_id == link.user_id)).all()
    assert [r.status for r in rows] == ["sent", "sent"] and rows[1].attempts == 3
    # Nothing is posted twice: more rounds of the sender add nothing.
    time.sleep(5)
    assert len(scores_of("graded-student")) == 2
    assert len({(s["scoreGiven"], s["timestamp"]) for s in scores_of("graded-student")}) == 2


def test_the_roster_is_synced_from_the_platform(tool, platform):
    platform.next_launch = Launch(sub="roster-teacher", roles=[INSTRUCTOR], context_id="roster-course")
    browser = Browser(tool)
    session = browser.open_app(browser.launch(platform))
    class_id = int(session["target"].rsplit("/", 1)[1])
    platform.members = [
        {"user_id": "roster-teacher", "roles": [INSTRUCTOR], "status": "Active"},
        {"user_id": "roster-s1", "roles": [LEARNER], "name": "Mia Muster", "email": "mia@school.example"},
        {"user_id": "roster-s2", "roles": [LEARNER], "status": "Active"},
        {"user_id": "roster-s3", "roles": [LEARNER], "status": "Inactive"},
    ]
    synced = tool.client.post(f"/api/lti/classes/{class_id}/roster-sync", headers=bearer(session).headers)
    assert synced.status_code == 200, synced.text
    assert synced.json() == {"teachers": 1, "students": 2, "removed": 0}
    with tool.session() as db:
        members = db.exec(select(ClassMember).where(ClassMember.class_id == class_id)).all()
        assert sorted(m.role for m in members) == ["student", "student", "teacher"]
        assert db.exec(select(LtiUser).where(LtiUser.subject == "roster-s1")).one().name is None  # names off
    platform.members = platform.members[:2]  # roster-s2 left the course
    assert tool.client.post(f"/api/lti/classes/{class_id}/roster-sync", headers=bearer(session).headers).json() == {
        "teachers": 1,
        "students": 1,
        "removed": 1,
    }
    # Only the class's teachers may sync it.
    other = tool.user("roster-outsider")
    assert tool.client.post(f"/api/lti/classes/{class_id}/roster-sync", headers=other.headers).status_code == 404


def test_the_deep_link_answer_is_signed_by_a_published_key(tool, platform):
    keys = {k["kid"]: k for k in tool.client.get("/api/lti/jwks").json()["keys"]}
    platform.next_launch = Launch(
        sub="dl-teacher-3", roles=[INSTRUCTOR], context_id="dl-course", message_type="LtiDeepLinkingRequest"
    )
    browser = Browser(tool)
    session = browser.open_app(browser.launch(platform))
    answer = tool.client.post(
        f"/api/lti/deep-links/{session['target'].rsplit('/', 1)[1]}",
        headers=bearer(session).headers,
        json={"kind": "challenge", "title": "Challenge", "grading": "challenge"},
    ).json()
    assert jwt.get_unverified_header(answer["jwt"])["kid"] in keys
