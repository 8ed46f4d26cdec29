"""docker-compose.yml and the Dockerfile (no Docker engine here): their structure, parsed and checked."""

import re
from pathlib import Path

import pytest
import yaml
from digitlab.core.config import Settings

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_services_commands_and_health_checks():
    services = compose()["services"]
    assert set(services) == {"api", "worker", "postgres", "redis", "frontend"}
    assert services["frontend"]["build"]["target"] == "web"
    assert services["frontend"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["api"]["command"][:4] == ["digitlab", "serve", "--host", "0.0.0.0"]
    assert services["worker"]["command"] == ["digitlab", "worker"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "digitlab", "worker", "--ping"]
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "timeout", "retries"} <= set(check), name
        assert service.get("restart") == "unless-stopped", name
    # Workers are scalable: no fixed container name, no published port.
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["api"]["condition"] == "service_healthy"  # migrations first


def test_api_and_workers_share_settings_and_the_file_volume():
    data = compose()
    services = data["services"]
    api_env, worker_env = services["api"]["environment"], services["worker"]["environment"]
    assert api_env == worker_env
    assert api_env["DIGITLAB_JOB_BACKEND"] == "celery"
    assert api_env["DIGITLAB_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in api_env["DIGITLAB_DATABASE_URL"]
    assert "@redis:6379/" in api_env["DIGITLAB_CELERY_BROKER_URL"]
    assert api_env["DIGITLAB_DATA_DIR"] == "/data"
    for service in ("api", "worker"):
        assert "files:/data" in services[service]["volumes"]
    assert {"files", "pgdata", "redisdata"} <= set(data["volumes"])
    # Every DIGITLAB_ variable names a real setting.
    fields = {f"DIGITLAB_{name.upper()}" for name in Settings.model_fields}
    assert set(api_env) <= fields, set(api_env) - fields
    # No secret has a default: compose refuses to start without them.
    text = (REPO / "docker-compose.yml").read_text()
    assert re.findall(r"\$\{(POSTGRES_PASSWORD|REDIS_PASSWORD)(:-)", text) == []


def test_dockerfile_builds_one_image_for_api_and_workers():
    text = (REPO / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "pip install ." in text and "npm ci" in text
    assert "DIGITLAB_FRONTEND_DIR=/app/frontend" in text
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".git", "data", "frontend/node_modules"} <= set(ignored)


def test_compose_file_validates_with_docker_compose(tmp_path):
    """The real Compose parser checks the file against its schema (no Docker engine needed for `config`)."""
    import os
    import shutil
    import subprocess

    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose); structure checked above")
    env = {**os.environ, "POSTGRES_PASSWORD": "x", "REDIS_PASSWORD": "y"}
    result = subprocess.run([tool, "-f", str(REPO / "docker-compose.yml"), "config", "-q"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((REPO / "docker-compose.yml").read_text().replace("healthcheck:", "healthcheck_typo:", 1))
    result = subprocess.run([tool, "-f", str(broken), "config", "-q"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0  # the parser really checks the schema
