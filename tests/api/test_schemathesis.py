"""schemathesis against the real service, as a REST client's fuzzer would: every operation of /openapi.json,
all checks (schemathesis's default: server errors, documented statuses, content types, headers and bodies against
the schema, valid data accepted and invalid data refused, auth really enforced, deleted things gone, unsupported
methods refused ...), all phases including the stateful one, as a registered user. Settings, and what is left
out or widened and why, are in schemathesis.toml beside this file."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.live import live_service, request
from tests.conftest import PASSWORD

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
FUZZ_USER = "fuzzer"


def _schemathesis() -> str:
    found = Path(sys.executable).with_name("schemathesis")
    if found.exists():
        return str(found)
    if (path := shutil.which("schemathesis")) is None:
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    return path


@pytest.mark.slow
def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    command = _schemathesis()
    # The fuzzer logs in again after it ended its own session, and it sends wrong current passwords to
    # /api/auth/password, which count like failed logins: no rate limit in its way (the limits themselves are
    # tested in tests/api/test_login_limits.py).
    no_limits = {"DIGITLAB_LOGIN_IP_LIMITS": "", "DIGITLAB_REGISTER_IP_LIMITS": "", "DIGITLAB_LOGIN_ACCOUNT_LIMITS": ""}
    with live_service(tmp_path, **no_limits) as service:
        status, _ = request("POST", f"{service.base}/api/auth/register",
                            {"username": FUZZ_USER, "password": PASSWORD})
        assert status == 201
        env = {**os.environ, "DIGITLAB_FUZZ_USER": FUZZ_USER, "DIGITLAB_FUZZ_PASSWORD": PASSWORD,
               "NO_COLOR": "1"}
        result = subprocess.run(
            # Every check runs: the default. Not `--checks all`, which would also override the few checks
            # schemathesis.toml turns off for named operations (and says why).
            [command, "--config-file", str(CONFIG), "run", f"{service.base}/openapi.json",
             "--report", "junit", "--report-dir", str(tmp_path / "report")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        output = result.stdout + result.stderr
        print(output[-6000:])
        assert result.returncode == 0, output[-12000:]
        assert "Traceback" not in service.log_text(), service.log_text()[-6000:]
