"""Accounts, logins and tokens as a student or a REST client sees them."""

from tests.conftest import PASSWORD


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
    assert "password" not in response.text and PASSWORD not in response.text


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

    from digitlab.auth.models import AuthToken
    from digitlab.core.models import utcnow

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
