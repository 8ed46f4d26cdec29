"""`digitlab lti ...` from the server's shell: register a platform by hand, switch it off, rotate the keys, make a
dynamic-registration address; then the service sees what the command line did."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from digitlab.main import create_app
from tests.conftest import PASSWORD, make_settings


def run_lti(cwd: Path, data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIGITLAB_")}
    env["DIGITLAB_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "digitlab.cli", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )


@pytest.mark.slow  # a dozen command-line runs, each starting Python and migrating
def test_platforms_and_keys_from_the_command_line(tmp_path):
    data = tmp_path / "data"
    added = run_lti(
        tmp_path,
        data,
        "lti",
        "add",
        "--name",
        "School Moodle",
        "--issuer",
        "https://moodle.school.example",
        "--client-id",
        "abc123",
        "--deployment-id",
        "1",
        "--deployment-id",
        "2",
        "--auth-login-url",
        "https://moodle.school.example/mod/lti/auth.php",
        "--auth-token-url",
        "https://moodle.school.example/mod/lti/token.php",
        "--jwks-url",
        "https://moodle.school.example/mod/lti/certs.php",
    )
    assert added.returncode == 0, added.stderr
    platform = json.loads(added.stdout)
    assert platform["deployment_ids"] == ["1", "2"] and platform["enabled"] is True
    again = run_lti(
        tmp_path,
        data,
        "lti",
        "add",
        "--name",
        "x",
        "--issuer",
        "https://moodle.school.example",
        "--client-id",
        "abc123",
        "--deployment-id",
        "1",
        "--auth-login-url",
        "https://a.example/a",
        "--auth-token-url",
        "https://a.example/t",
        "--jwks-url",
        "https://a.example/j",
    )
    assert again.returncode == 2 and "already registered" in again.stderr
    bad = run_lti(
        tmp_path,
        data,
        "lti",
        "add",
        "--name",
        "x",
        "--issuer",
        "https://y.example",
        "--client-id",
        "c",
        "--deployment-id",
        "1",
        "--auth-login-url",
        "not a url",
        "--auth-token-url",
        "https://a.example/t",
        "--jwks-url",
        "https://a.example/j",
    )
    assert bad.returncode == 2 and "auth_login_url" in bad.stderr
    disabled = run_lti(tmp_path, data, "lti", "disable", str(platform["id"]))
    assert disabled.returncode == 0 and json.loads(disabled.stdout)["enabled"] is False
    assert run_lti(tmp_path, data, "lti", "disable", "999").returncode == 2
    rotated = run_lti(tmp_path, data, "lti", "rotate-keys")
    assert rotated.returncode == 0, rotated.stderr
    kid = json.loads(rotated.stdout)["kid"]
    # No admin yet: no registration address.
    assert run_lti(tmp_path, data, "lti", "registration-link", "--base-url", "https://lab.example").returncode == 2
    made = run_lti(tmp_path, data, "admin", "create", "--username", "root", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    link = run_lti(tmp_path, data, "lti", "registration-link", "--base-url", "https://lab.example")
    assert link.returncode == 0, link.stderr
    assert json.loads(link.stdout)["url"].startswith("https://lab.example/api/lti/register?token=")
    # The service sees all of it.
    with TestClient(create_app(make_settings(data), run_jobs=False)) as client:
        assert kid in {key["kid"] for key in client.get("/api/lti/jwks").json()["keys"]}
        token = client.post("/api/auth/login", json={"username": "root", "password": PASSWORD}).json()["access_token"]
        [listed] = client.get("/api/lti/platforms", headers={"Authorization": f"Bearer {token}"}).json()
        assert listed["enabled"] is False and listed["client_id"] == "abc123"
    listed = run_lti(tmp_path, data, "lti", "platforms")
    assert [p["client_id"] for p in json.loads(listed.stdout)] == ["abc123"]
    sent = run_lti(tmp_path, data, "lti", "send-grades")
    assert sent.returncode == 0 and json.loads(sent.stdout) == {"sent": 0}
