"""A teacher makes the class's accounts at once and prints login cards; students log in with the card's one-time
password and must choose their own; a teacher resets a forgotten password with a new card."""

import cv2
import numpy as np
import pypdfium2
import pytest
from fastapi.testclient import TestClient
from reportlab.lib.units import mm

from digitlab.classes.login_cards import CARD_HEIGHT_MM, CARD_WIDTH_MM, COLUMNS, ROWS
from digitlab.main import create_app
from tests.api.classroom import (
    CARD_PASSWORD,
    account,
    cards,
    join_code,
    log_in,
    members,
    new_class,
    pdf_pages_text,
    student,
    teacher,
)
from tests.conftest import PASSWORD, UserHandle, make_settings

NEW_PASSWORD = "purple kites swim slowly"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("cards") / "data")
    with TestClient(create_app(settings, run_jobs=False)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def admin(client) -> UserHandle:
    return account(client, "root")


@pytest.fixture(scope="module")
def mrs_k(client, admin) -> UserHandle:
    return teacher(client, admin, "mrs.k")


def make_students(client, user: UserHandle, class_id: int, body: dict, language: str | None = None):
    params = {"language": language} if language else None
    return client.post(f"/api/classes/{class_id}/students", json=body, params=params, headers=user.headers)


def qr_codes(pdf: bytes, page_index: int = 0) -> list[str]:
    """The QR code of every card on a page, read back card by card from the page rendered at 300 dpi (OpenCV's
    two QR readers, as a phone would try more than once)."""
    scale = 300 / 72
    document = pypdfium2.PdfDocument(pdf)
    try:
        page = document[page_index].render(scale=scale, grayscale=True).to_numpy()
    finally:
        document.close()
    gray = page if page.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(page[..., :3]), cv2.COLOR_BGR2GRAY)
    width, height = (round(side * mm * scale) for side in (CARD_WIDTH_MM, CARD_HEIGHT_MM))
    left, top = (gray.shape[1] - COLUMNS * width) // 2, (gray.shape[0] - ROWS * height) // 2
    found = []
    for row in range(ROWS):
        for column in range(COLUMNS):
            x, y = left + column * width, top + row * height
            card = np.ascontiguousarray(gray[y : y + height, x : x + width])
            readers = (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco())
            text = next((text for reader in readers if (text := reader.detectAndDecode(card)[0])), "")
            if text:
                found.append(text)
    return found


def test_a_teacher_makes_a_class_of_accounts_with_login_cards(client, mrs_k):
    school_class = new_class(client, mrs_k, "Klasse 7b")
    response = make_students(client, mrs_k, school_class["id"], {"count": 12, "prefix": "fox"})
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"  # passwords inside
    names = [f"fox{n:02d}" for n in range(1, 13)]
    pages = pdf_pages_text(response.content)
    assert len(pages) == 2  # ten cards to a page
    assert [sum(name in page for name in names) for page in pages] == [10, 2]
    assert all("Klasse 7b" in page and "One-time password" in page and "http://testserver/" in page for page in pages)
    passwords = cards(response.content, names)
    assert len(set(passwords.values())) == 12
    assert len(CARD_PASSWORD.findall("\n".join(pages))) == 12  # each password once, nothing else like one

    listed = members(client, mrs_k, school_class["id"])[1:]
    assert [(m["username"], m["writer_number"]) for m in listed] == [(name, n) for n, name in enumerate(names, 1)]
    assert all(m["account_made_for_class"] and m["password_change_required"] for m in listed)

    # A card's password logs in once, then the student must choose their own before anything else.
    login = client.post("/api/auth/login", json={"username": "FOX03", "password": passwords["fox03"]})
    assert login.status_code == 200 and login.json()["password_change_required"] is True
    fox = UserHandle("fox03", login.json()["access_token"])
    me = client.get("/api/auth/me", headers=fox.headers).json()
    assert me["password_change_required"] is True and me["role"] == "student"
    for method, url in [("GET", "/api/projects"), ("GET", "/api/classes"), ("POST", "/api/auth/api-tokens"),
                        ("GET", f"/api/classes/{school_class['id']}")]:
        refused = client.request(method, url, headers=fox.headers, json={"name": "x"} if method == "POST" else None)
        assert refused.status_code == 403, (url, refused.text)
        assert refused.json()["code"] == "password_change_required" and refused.json()["detail"]
    change = "/api/auth/password"
    same = client.post(change, json={"current_password": passwords["fox03"], "new_password": passwords["fox03"]},
                       headers=fox.headers)
    assert same.status_code == 422 and same.json()["code"] == "same_password"
    changed = client.post(change, json={"current_password": passwords["fox03"], "new_password": NEW_PASSWORD},
                          headers=fox.headers)
    assert changed.status_code == 204, changed.text
    assert client.get("/api/projects", headers=fox.headers).json() == []
    assert client.get("/api/auth/me", headers=fox.headers).json()["password_change_required"] is False
    mine = client.get("/api/classes", headers=fox.headers).json()
    assert [(c["name"], c["writer_number"]) for c in mine] == [("Klasse 7b", 3)]
    assert client.post("/api/auth/login", json={"username": "fox03", "password": passwords["fox03"]}).status_code == 401
    assert log_in(client, "fox03", NEW_PASSWORD)
    assert not next(m for m in members(client, mrs_k, school_class["id"]) if m["username"] == "fox03")[
        "password_change_required"]


def test_cards_carry_a_qr_code_of_the_app_and_speak_german(tmp_path):
    settings = make_settings(tmp_path / "data", app_url="https://digitlab.school.example/")
    with TestClient(create_app(settings, run_jobs=False)) as client:
        root = account(client, "root")
        school_class = new_class(client, root, "Physik AG")
        response = make_students(client, root, school_class["id"], {"usernames": ["mila", "jonas"]}, "de")
        assert response.status_code == 201, response.text
        [page] = pdf_pages_text(response.content)
        assert "Benutzername" in page and "Einmal-Passwort" in page and "https://digitlab.school.example/" in page
        assert qr_codes(response.content) == ["https://digitlab.school.example/"] * 2
        code = join_code(client, root, school_class["id"])
        svg = client.get(code["qr_svg_url"], headers=root.headers).text
        assert f"https://digitlab.school.example/#/join/{code['code']}" in svg


def test_nicknames_from_a_list_all_or_nothing(client, mrs_k):
    school_class = new_class(client, mrs_k, "8a")
    student(client, join_code(client, mrs_k, school_class["id"])["code"], "taken.name")
    before = members(client, mrs_k, school_class["id"])
    taken = make_students(client, mrs_k, school_class["id"], {"usernames": ["new.one", "Taken.Name", "new.two"]})
    assert taken.status_code == 409 and taken.json()["code"] == "username_taken"
    assert taken.json()["taken"] == ["taken.name"]
    twice = make_students(client, mrs_k, school_class["id"], {"usernames": ["same", "SAME"]})
    assert twice.status_code == 422 and twice.json()["code"] == "duplicate_usernames"
    for body in [{}, {"count": 0}, {"count": 51}, {"count": 2, "usernames": ["a.b.c"]}, {"usernames": []},
                 {"usernames": ["ok.name", "no spaces"]}, {"prefix": "fox"}, {"count": 2, "prefix": "bad prefix"},
                 {"count": "2"}]:
        response = make_students(client, mrs_k, school_class["id"], body)
        assert response.status_code == 422, (body, response.text)
    assert members(client, mrs_k, school_class["id"]) == before
    assert client.post("/api/auth/login", json={"username": "new.one", "password": "x"}).status_code == 401


def test_numbered_nicknames_skip_taken_ones_and_default_to_the_class_name(client, mrs_k):
    school_class = new_class(client, mrs_k, "Kläss 9c!")
    account(client, "klass9c-02")
    response = make_students(client, mrs_k, school_class["id"], {"count": 3})
    assert response.status_code == 201
    expected = ["klass9c-01", "klass9c-03", "klass9c-04"]
    assert set(cards(response.content, expected)) == set(expected)
    assert [m["username"] for m in members(client, mrs_k, school_class["id"])] == ["mrs.k", *expected]


def test_a_teacher_resets_a_students_password_with_a_new_card(client, admin, mrs_k):
    school_class = new_class(client, mrs_k, "10d")
    mia = student(client, join_code(client, mrs_k, school_class["id"])["code"], "mia")
    mia_id = client.get("/api/auth/me", headers=mia.headers).json()["id"]
    url = f"/api/classes/{school_class['id']}/members/{mia_id}/password-reset"
    response = client.post(url, headers=mrs_k.headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    new_password = cards(response.content, ["mia"])["mia"]
    assert client.get("/api/auth/me", headers=mia.headers).status_code == 401  # her sessions ended
    assert client.post("/api/auth/login", json={"username": "mia", "password": PASSWORD}).status_code == 401
    again = log_in(client, "mia", new_password)
    assert client.get("/api/projects", headers=again.headers).json()["code"] == "password_change_required"
    assert client.post("/api/auth/password", json={"current_password": new_password, "new_password": NEW_PASSWORD},
                       headers=again.headers).status_code == 204
    assert client.get("/api/projects", headers=again.headers).status_code == 200

    # A teacher's own account (in the class as a student) and strangers are out of reach.
    mr_o = teacher(client, admin, "mr.o")
    client.post("/api/classes/join", json={"code": join_code(client, mrs_k, school_class["id"])["code"]},
                headers=mr_o.headers)
    mr_o_id = client.get("/api/auth/me", headers=mr_o.headers).json()["id"]
    refused = client.post(f"/api/classes/{school_class['id']}/members/{mr_o_id}/password-reset", headers=mrs_k.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "not_a_student_account"
    mrs_k_id = client.get("/api/auth/me", headers=mrs_k.headers).json()["id"]
    # A teacher of the class is no student of it; and mr.o teaches no class of mia's.
    for user_id, who in [(mrs_k_id, mrs_k), (mia_id, mr_o)]:
        assert client.post(f"/api/classes/{school_class['id']}/members/{user_id}/password-reset",
                           headers=who.headers).status_code == 404
    assert client.get("/api/auth/me", headers=mr_o.headers).status_code == 200
