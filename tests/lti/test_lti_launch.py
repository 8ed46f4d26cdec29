"""LTI 1.3 launches from a test platform (a real HTTP server on loopback) into the running tool: registration,
a learner's and an instructor's launch, the launch in an iframe without our cookie, the one-time code."""

from sqlmodel import select

from digitlab.auth.tables import User
from digitlab.classes.tables import ClassMember, SchoolClass
from digitlab.lti.tables import LtiUser
from tests.lti import lti_tool
from tests.lti.lti_platform import INSTRUCTOR, Launch, TestPlatform
from tests.lti.lti_tool import Browser

# The fixtures shared by the LTI test modules: this module's tool, its admin and a registered platform.
tool, admin, platform = lti_tool.tool, lti_tool.admin, lti_tool.platform


def test_a_learner_launches_into_a_project_of_the_course_class(tool, platform):
    platform.next_launch = Launch(sub="learner-a", context_id="course-1", context_title="8b")
    browser = Browser(tool)
    session = browser.open_app(browser.launch(platform))
    assert session["target"].startswith("/projects/")
    me = tool.client.get("/api/auth/me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.status_code == 200 and me.json()["role"] == "student"
    assert me.json()["username"].startswith("student-")  # pseudonymous
    project_id = int(session["target"].rsplit("/", 1)[1])
    project = tool.client.get(
        f"/api/projects/{project_id}", headers={"Authorization": f"Bearer {session['access_token']}"}
    )
    assert project.status_code == 200
    with tool.session() as db:
        link = db.exec(select(LtiUser).where(LtiUser.subject == "learner-a")).one()
        assert link.name is None
        [member] = db.exec(select(ClassMember).where(ClassMember.user_id == link.user_id)).all()
        assert member.role == "student" and member.writer_number == 1 and member.account_made_for_class
        assert db.get(SchoolClass, member.class_id).name == "8b"


def test_an_instructor_becomes_a_teacher_of_the_same_class(tool, platform):
    platform.next_launch = Launch(sub="teacher-a", roles=[INSTRUCTOR], context_id="course-1")
    browser = Browser(tool)
    session = browser.open_app(browser.launch(platform))
    assert session["target"].startswith("/classes/")
    assert session["user"]["role"] == "teacher"
    with tool.session() as db:
        link = db.exec(select(LtiUser).where(LtiUser.subject == "teacher-a")).one()
        [member] = db.exec(select(ClassMember).where(ClassMember.user_id == link.user_id)).all()
        learner = db.exec(select(LtiUser).where(LtiUser.subject == "learner-a")).one()
        [learner_member] = db.exec(select(ClassMember).where(ClassMember.user_id == learner.user_id)).all()
        assert member.role == "teacher" and member.class_id == learner_member.class_id


def test_the_launch_works_with_the_cookie_alone_and_with_the_page_alone(tool, platform):
    platform.next_launch = Launch(sub="learner-b")
    with_cookie = Browser(tool, cookies=True, storage=False)
    answer = with_cookie.launch(platform)
    assert answer.status_code == 303 and len(with_cookie.pages) == 2  # no page step was needed
    in_iframe = Browser(tool, cookies=False, storage=True)
    answer = in_iframe.launch(platform)
    assert answer.status_code == 303 and len(in_iframe.pages) == 3  # our page showed the secret it kept


def test_names_are_kept_only_when_the_admin_switched_it_on(tool, admin):
    with TestPlatform(client_id="names-on") as named:
        tool.register(admin, named, store_names=True)
        named.next_launch = Launch(
            sub="named-learner", name="Mia Muster", extra={"email": "mia@school.example", "given_name": "Mia"}
        )
        assert Browser(tool).launch(named).status_code == 303
    with tool.session() as db:
        link = db.exec(select(LtiUser).where(LtiUser.subject == "named-learner")).one()
        assert link.name == "Mia Muster"
        user = db.get(User, link.user_id)
        assert user.username.startswith("student-")  # the account itself stays pseudonymous
        dump = repr(db.exec(select(LtiUser)).all()) + repr(db.exec(select(User)).all())
        assert "mia@school.example" not in dump  # e-mails are never kept


def test_a_second_launch_finds_the_same_user_and_class(tool, platform):
    platform.next_launch = Launch(sub="learner-a", context_id="course-1")
    browser = Browser(tool)
    again = browser.open_app(browser.launch(platform))
    with tool.session() as db:
        assert len(db.exec(select(LtiUser).where(LtiUser.subject == "learner-a")).all()) == 1
        link = db.exec(select(LtiUser).where(LtiUser.subject == "learner-a")).one()
        assert len(db.exec(select(ClassMember).where(ClassMember.user_id == link.user_id)).all()) == 1
    assert again["user"]["id"] == link.user_id


def test_a_launch_code_works_once(tool, platform):
    platform.next_launch = Launch(sub="learner-once")
    answer = Browser(tool).launch(platform)
    code = answer.headers["location"].removeprefix("/#/lti/")
    assert tool.client.post("/api/lti/session", json={"code": code}).status_code == 200
    second = tool.client.post("/api/lti/session", json={"code": code})
    assert second.status_code == 401 and second.json()["code"] == "launch_code_invalid"
