"""Accounts, logins and tokens as a student or a REST client sees them."""

import pytest
from fastapi.testclient import TestClient

from digitlab.main import create_app
from tests.conftest import PASSWORD, make_settings


def register(client, username, password=PASSWORD):
    return client.post("/api/auth/register", json={"username": username, "password": password})


def login(client, username, password=PASSWORD):
    return client.post("/api/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_register_returns_the_new_user(client):
    response = register(client, "mia.k-2")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == "mia.k-2"
    assert isinstance(body["id"], int)
    assert PASSWORD not in response.text
    assert {key for key in body if "password" in key} == {"password_change_required"}  # no hash, no password
    assert body["role"] == "admin" and body["password_change_required"] is False  # the instance's first account


def test_register_twice_with_the_same_name_conflicts(client):
    assert register(client, "mia").status_code == 201
    again = register(client, "mia", "another password")
    assert again.status_code == 409
    assert again.json()["code"] == "username_taken"
    # The first account still logs in with its own password.
    assert login(client, "mia").status_code == 200
    assert login(client, "mia", "another password").status_code == 401


def test_register_rejects_a_short_password(client):
    response = register(client, "mia", "short")
    assert response.status_code == 422
    assert response.json()["detail"]
    assert login(client, "mia", "short").status_code == 401  # nothing was created


def test_register_rejects_bad_usernames(client):
    for name in ["ab", "has space", "semi;colon", "x" * 65, "", "ümlaut"]:
        response = register(client, name)
        assert response.status_code == 422, (name, response.text)
        body = response.json()
        assert body["code"] == "validation_error" and body["detail"]


def test_login_returns_a_working_bearer_token(client):
    register(client, "mia")
    response = login(client, "mia")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["user"]["username"] == "mia"
    me = client.get("/api/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == "mia"


def test_wrong_password_and_unknown_user_look_the_same(client):
    register(client, "mia")
    wrong = login(client, "mia", "not the password")
    unknown = login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["detail"]


def test_form_login_at_token_endpoint(client):
    register(client, "mia")
    response = client.post("/api/auth/token", data={"username": "mia", "password": PASSWORD})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert client.get("/api/auth/me", headers=bearer(token)).json()["username"] == "mia"
    bad = client.post("/api/auth/token", data={"username": "mia", "password": "nope nope"})
    assert bad.status_code == 401


def test_logout_revokes_only_that_session(client):
    register(client, "mia")
    first = login(client, "mia").json()["access_token"]
    second = login(client, "mia").json()["access_token"]
    assert client.post("/api/auth/logout", headers=bearer(first)).status_code == 204
    after = client.get("/api/auth/me", headers=bearer(first))
    assert after.status_code == 401
    assert after.json()["code"] == "invalid_token"
    assert client.get("/api/auth/me", headers=bearer(second)).status_code == 200


def test_missing_or_garbage_token_is_401(client):
    for headers in [{}, bearer("garbage"), bearer("dl_" + "A" * 43), {"Authorization": "Basic bWlhOnB3"},
                    {"Authorization": "Bearer"}]:
        response = client.get("/api/auth/me", headers=headers)
        assert response.status_code == 401, headers
        body = response.json()
        assert body["detail"] and body["code"] in ("not_authenticated", "invalid_token")


def test_api_token_is_shown_once_and_works_as_bearer(client, alice):
    created = client.post("/api/auth/api-tokens", json={"name": "Moodle"}, headers=alice.headers)
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["token"]
    assert body["name"] == "Moodle" and secret
    assert secret.startswith(body["prefix"])

    listed = client.get("/api/auth/api-tokens", headers=alice.headers)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()] == [body["id"]]
    assert secret not in listed.text
    assert "token" not in listed.json()[0]

    me = client.get("/api/auth/me", headers=bearer(secret))
    assert me.status_code == 200 and me.json()["username"] == "alice"
    # The API token is a full login: it can create and read projects.
    project = client.post("/api/projects", json={"name": "via API"}, headers=bearer(secret))
    assert project.status_code == 201
    assert [p["name"] for p in client.get("/api/projects", headers=alice.headers).json()] == ["via API"]


def test_api_token_name_is_required(client, alice):
    for body in [{}, {"name": ""}, {"name": "   "}, {"name": "x" * 101}]:
        response = client.post("/api/auth/api-tokens", json=body, headers=alice.headers)
        assert response.status_code == 422, body
    assert client.get("/api/auth/api-tokens", headers=alice.headers).json() == []


def test_revoked_api_token_stops_working(client, alice):
    body = client.post("/api/auth/api-tokens", json={"name": "script"}, headers=alice.headers).json()
    keep = client.post("/api/auth/api-tokens", json={"name": "other"}, headers=alice.headers).json()
    assert client.delete(f"/api/auth/api-tokens/{body['id']}", headers=alice.headers).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(body["token"])).status_code == 401
    assert [t["id"] for t in client.get("/api/auth/api-tokens", headers=alice.headers).json()] == [keep["id"]]
    assert client.get("/api/auth/me", headers=bearer(keep["token"])).status_code == 200
    # Revoking twice, or an id that never existed, is "not found".
    assert client.delete(f"/api/auth/api-tokens/{body['id']}", headers=alice.headers).status_code == 404
    assert client.delete("/api/auth/api-tokens/999999", headers=alice.headers).status_code == 404


def test_revoking_another_users_token_is_404_and_keeps_it(client, alice, bob):
    body = client.post("/api/auth/api-tokens", json={"name": "alice's"}, headers=alice.headers).json()
    response = client.delete(f"/api/auth/api-tokens/{body['id']}", headers=bob.headers)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert client.get("/api/auth/me", headers=bearer(body["token"])).status_code == 200


def test_a_session_token_cannot_be_revoked_as_an_api_token(client, alice):
    tokens = client.get("/api/auth/api-tokens", headers=alice.headers).json()
    assert tokens == []  # web sessions are not listed as API tokens
    # Guess ids around the session's own: none of them is an API token, so all answer 404.
    for token_id in range(1, 6):
        assert client.delete(f"/api/auth/api-tokens/{token_id}", headers=alice.headers).status_code == 404
    assert client.get("/api/auth/me", headers=alice.headers).status_code == 200


def test_expired_session_is_refused(client, alice):
    from sqlalchemy import update

    from digitlab.auth.tables import AuthToken
    from digitlab.core.clock import utcnow

    assert client.get("/api/auth/me", headers=alice.headers).status_code == 200
    with client.app.state.engine.begin() as connection:  # a week has passed
        connection.execute(update(AuthToken).where(AuthToken.kind == "session").values(expires_at=utcnow()))
    response = client.get("/api/auth/me", headers=alice.headers)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert login(client, "alice").status_code == 200


def test_malformed_json_is_a_clear_422(client, alice):
    for body in (b'{"name": ', b"not json", b'["a list"]'):
        response = client.post("/api/projects", content=body,
                               headers=alice.headers | {"Content-Type": "application/json"})
        assert response.status_code == 422, body
        assert response.json()["detail"] and response.json()["code"]
    assert client.get("/api/projects", headers=alice.headers).json() == []


# --- usernames are one account whatever their case -------------------------------------------------------------
def test_usernames_are_not_case_sensitive(client):
    created = register(client, "Mia.K")
    assert created.status_code == 201
    again = register(client, "mia.k", "another fine password")
    assert again.status_code == 409
    assert again.json()["code"] == "username_taken"
    users = [login(client, name).json()["user"] for name in ("Mia.K", "mia.k", "MIA.K")]
    assert {user["id"] for user in users} == {created.json()["id"]}
    assert {user["username"] for user in users} == {"Mia.K"}  # shown as it was typed at registration
    assert login(client, "mia.k", "another fine password").status_code == 401


# --- passwords that are easy to guess are refused ---------------------------------------------------------------
@pytest.mark.parametrize("password", ["12345678", "password", "password1", "Passwort1", "qwertzuiop", "aaaaaaaaaa",
                                      "abcdefgh", "iloveyou", "11111111"])
def test_register_refuses_easy_passwords(client, password):
    response = register(client, "mia", password)
    assert response.status_code == 422, password
    body = response.json()
    assert body["code"] == "weak_password" and body["detail"]
    assert login(client, "mia", password).status_code == 401  # nothing was created


@pytest.mark.parametrize(("username", "password"), [("bernhard.k", "bernhard.k"), ("Bernhard.K", "bernhard.k"),
                                                    ("klara_s", "klara_s2024"), ("tim-o", "tim-otim-o")])
def test_register_refuses_the_username_as_password(client, username, password):
    response = register(client, username, password)
    assert response.status_code == 422, (username, password)
    assert response.json()["code"] == "weak_password"


def test_register_accepts_a_password_that_is_hard_to_guess(client):
    for name, password in [("ina", "blue lamp under water"), ("ole", "Tr0ub4dor&3x"), ("pia", "Zebrafink-Sommer-7")]:
        assert register(client, name, password).status_code == 201, password
        assert login(client, name, password).status_code == 200


# --- logout ends a web session, never an API token --------------------------------------------------------------
def test_logout_with_an_api_token_keeps_the_token(client, alice):
    token = client.post("/api/auth/api-tokens", json={"name": "Moodle"}, headers=alice.headers).json()
    response = client.post("/api/auth/logout", headers=bearer(token["token"]))
    assert response.status_code == 403
    assert response.json()["code"] == "session_required" and response.json()["detail"]
    assert client.get("/api/auth/me", headers=bearer(token["token"])).status_code == 200
    assert [t["id"] for t in client.get("/api/auth/api-tokens", headers=alice.headers).json()] == [token["id"]]
    assert client.get("/api/auth/me", headers=alice.headers).status_code == 200


def test_an_api_token_cannot_create_api_tokens(client, alice):
    token = client.post("/api/auth/api-tokens", json={"name": "script"}, headers=alice.headers).json()
    response = client.post("/api/auth/api-tokens", json={"name": "child"}, headers=bearer(token["token"]))
    assert response.status_code == 403
    assert response.json()["code"] == "session_required"
    assert [t["name"] for t in client.get("/api/auth/api-tokens", headers=alice.headers).json()] == ["script"]


# --- sessions ---------------------------------------------------------------------------------------------------
def test_list_and_end_sessions(client, alice, bob):
    phone, laptop = (login(client, "alice").json()["access_token"] for _ in range(2))
    api_token = client.post("/api/auth/api-tokens", json={"name": "script"}, headers=alice.headers).json()["token"]
    sessions = client.get("/api/auth/sessions", headers=alice.headers)
    assert sessions.status_code == 200
    listed = sessions.json()
    assert len(listed) == 3  # the fixture's login, the phone and the laptop; API tokens are not sessions
    assert [s["current"] for s in listed] == [True, False, False]
    assert all(s["expires_at"] and s["created_at"] for s in listed)
    assert alice.token not in sessions.text and phone not in sessions.text
    as_phone = client.get("/api/auth/sessions", headers=bearer(phone)).json()
    assert [s["current"] for s in as_phone] == [False, True, False]

    # End the phone's session from the first one.
    phone_id = listed[1]["id"]
    assert client.delete(f"/api/auth/sessions/{phone_id}", headers=alice.headers).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(phone)).status_code == 401
    assert client.delete(f"/api/auth/sessions/{phone_id}", headers=alice.headers).status_code == 404  # already ended
    # Bob can neither see nor end Alice's sessions.
    assert client.delete(f"/api/auth/sessions/{listed[2]['id']}", headers=bob.headers).status_code == 404
    assert len(client.get("/api/auth/sessions", headers=bob.headers).json()) == 1
    # All others: only the laptop is left to end; the API token is not a session and keeps working.
    ended = client.post("/api/auth/sessions/end-others", headers=alice.headers)
    assert ended.status_code == 200 and ended.json() == {"ended": 1}
    assert client.get("/api/auth/me", headers=bearer(laptop)).status_code == 401
    assert client.get("/api/auth/me", headers=alice.headers).status_code == 200
    assert client.get("/api/auth/me", headers=bearer(api_token)).status_code == 200
    assert [s["current"] for s in client.get("/api/auth/sessions", headers=alice.headers).json()] == [True]
    assert client.get("/api/auth/me", headers=bob.headers).status_code == 200


def test_ending_the_current_session_logs_it_out(client, alice):
    [current] = client.get("/api/auth/sessions", headers=alice.headers).json()
    assert client.delete(f"/api/auth/sessions/{current['id']}", headers=alice.headers).status_code == 204
    assert client.get("/api/auth/me", headers=alice.headers).status_code == 401


# --- changing the password --------------------------------------------------------------------------------------
def change_password(client, headers, current, new):
    return client.post("/api/auth/password", json={"current_password": current, "new_password": new},
                       headers=headers)


def test_change_password_needs_the_current_one_and_ends_other_sessions(client, alice):
    other = login(client, "alice").json()["access_token"]
    api_token = client.post("/api/auth/api-tokens", json={"name": "script"}, headers=alice.headers).json()["token"]
    new = "a brand new secret phrase"

    wrong = change_password(client, alice.headers, "not my password", new)
    assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_password"
    weak = change_password(client, alice.headers, PASSWORD, "password1")
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    assert change_password(client, alice.headers, PASSWORD, "alice").status_code == 422  # too short
    assert client.get("/api/auth/me", headers=bearer(other)).status_code == 200  # nothing changed so far
    assert login(client, "alice").status_code == 200

    assert change_password(client, alice.headers, PASSWORD, new).status_code == 204
    assert client.get("/api/auth/me", headers=alice.headers).status_code == 200  # this session goes on
    assert client.get("/api/auth/me", headers=bearer(other)).status_code == 401  # every other one ended
    assert client.get("/api/auth/me", headers=bearer(api_token)).status_code == 200  # API tokens stay
    assert login(client, "alice").status_code == 401
    assert login(client, "ALICE", new).status_code == 200


def test_an_api_token_cannot_change_the_password(client, alice):
    api_token = client.post("/api/auth/api-tokens", json={"name": "script"}, headers=alice.headers).json()["token"]
    response = change_password(client, bearer(api_token), PASSWORD, "a brand new secret phrase")
    assert response.status_code == 403 and response.json()["code"] == "session_required"
    assert login(client, "alice").status_code == 200


# --- characters that make no sense in a name or a login ---------------------------------------------------------
@pytest.mark.parametrize("bad", ["mia\x00", "\x00", "mi\ta", "mia\n", "mia\x1b[31m", "mia\x7f", "mia\u0085",
                                 "mia\u2028"])
def test_control_characters_in_logins_and_names_are_422(client, alice, bad):
    responses = [register(client, bad), login(client, bad), login(client, "alice", PASSWORD + bad),
                 client.post("/api/auth/token", data={"username": bad, "password": PASSWORD}),
                 client.post("/api/auth/api-tokens", json={"name": bad}, headers=alice.headers),
                 change_password(client, alice.headers, PASSWORD, "a brand new secret" + bad)]
    for response in responses:
        assert response.status_code == 422, (bad, response.request.url, response.text)
        assert response.json()["code"] == "validation_error" and response.json()["detail"]
    assert client.get("/api/auth/api-tokens", headers=alice.headers).json() == []
    assert login(client, "alice").status_code == 200


def test_lone_surrogates_are_422_not_a_server_error(client, alice):
    raw = b'{"username": "alice", "password": "\\ud800 correct horse"}'
    for path, body, headers in [("/api/auth/login", raw, {}),
                                ("/api/auth/api-tokens", b'{"name": "x\\udfff"}', alice.headers)]:
        response = client.post(path, content=body, headers=headers | {"Content-Type": "application/json"})
        assert response.status_code == 422, (path, response.text)


def test_the_password_rule_the_forms_show_is_the_one_the_server_enforces(tmp_path):
    with TestClient(create_app(make_settings(tmp_path / "data", password_min_length=12))) as client:
        check_password_rule(client)


def check_password_rule(client):
    rule = client.get("/api/auth/password-rule")
    assert rule.status_code == 200
    assert rule.json()["min_length"] == 12 and rule.json()["hard_to_guess"] is True
    refused = register(client, "mia", "eleven char")
    assert refused.status_code == 422
    assert refused.json()["code"] == "password_too_short" and refused.json()["min_length"] == 12
    assert register(client, "mia", "twelve chars plus").status_code == 201
