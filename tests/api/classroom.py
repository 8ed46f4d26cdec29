"""Classes made the way teachers and students make them, through the API: an admin, teachers by invitation,
classes, join codes, students who join, login cards read back from their PDF."""

import re
from datetime import timedelta

import pypdfium2
from sqlalchemy import update

from digitlab.classes.tables import JoinCode
from digitlab.core.clock import utcnow
from digitlab.core.db import unit_of_work
from tests.conftest import PASSWORD, UserHandle

# A one-time password as printed on a card: three lower-case groups of four.
CARD_PASSWORD = re.compile(r"\b[2-9a-z]{4}-[2-9a-z]{4}-[2-9a-z]{4}\b")


def register(client, username: str, password: str = PASSWORD, **more):
    return client.post("/api/auth/register", json={"username": username, "password": password, **more})


def log_in(client, username: str, password: str = PASSWORD) -> UserHandle:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return UserHandle(username, response.json()["access_token"])


def account(client, username: str, **more) -> UserHandle:
    """Register and log in (the first account of an instance is its admin)."""
    response = register(client, username, **more)
    assert response.status_code == 201, response.text
    return log_in(client, username)


def teacher_invite(client, admin: UserHandle, **body) -> dict:
    response = client.post("/api/admin/teacher-invites", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


def teacher(client, admin: UserHandle, username: str) -> UserHandle:
    """A teacher's account, registered with an admin's invitation."""
    return account(client, username, invite_code=teacher_invite(client, admin)["code"])


def new_class(client, user: UserHandle, name: str = "7b", **more) -> dict:
    response = client.post("/api/classes", json={"name": name, **more}, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


def join_code(client, user: UserHandle, class_id: int, **body) -> dict:
    response = client.post(f"/api/classes/{class_id}/join-codes", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    return response.json()


def join(client, code: str, username: str, password: str = PASSWORD):
    return client.post("/api/join", json={"code": code, "username": username, "password": password})


def student(client, code: str, username: str) -> UserHandle:
    """A new student's account made with a join code (logged in by the answer)."""
    response = join(client, code, username)
    assert response.status_code == 201, response.text
    return UserHandle(username, response.json()["access_token"])


def members(client, user: UserHandle, class_id: int) -> list[dict]:
    response = client.get(f"/api/classes/{class_id}/members", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def expire_join_code(client, code_id: int) -> None:
    """Let a join code's time run out (as if its days had passed)."""
    with unit_of_work(client.app.state.engine) as session:
        session.exec(update(JoinCode).where(JoinCode.id == code_id).values(expires_at=utcnow() - timedelta(minutes=1)))


def pdf_pages_text(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def cards(pdf: bytes, usernames: list[str]) -> dict[str, str]:
    """username -> one-time password, as printed: on each card the password follows its username."""
    text = "\n".join(pdf_pages_text(pdf))
    found = {}
    for name in usernames:
        at = text.index(name)
        match = CARD_PASSWORD.search(text, at + len(name))
        assert match is not None, f"no password after {name}"
        found[name] = match.group(0)
    return found
