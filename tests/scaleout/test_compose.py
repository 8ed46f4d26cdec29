"""docker-compose.yml and the Dockerfile (no Docker engine here): their structure, parsed and checked."""

import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from digitlab.core.config import Settings

REPO = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_services_commands_and_health_checks():
    services = compose()["services"]
    assert set(services) == {"migrate", "api", "worker", "postgres", "redis", "frontend"}
    assert services["frontend"]["build"]["target"] == "web"
    assert services["frontend"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["api"]["command"][:4] == ["digitlab", "serve", "--host", "0.0.0.0"]
    assert services["worker"]["command"] == ["digitlab", "worker"]
    assert services["worker"]["healthcheck"]["test"] == ["CMD", "digitlab", "worker", "--ping"]
    for name, service in services.items():
        if name == "migrate":
            continue  # a one-shot step: test_migrations_run_once_before_the_api_and_the_workers
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "timeout", "retries"} <= set(check), name
        assert service.get("restart") == "unless-stopped", name
    # Workers are scalable: no fixed container name, no published port.
    assert "container_name" not in services["worker"] and "ports" not in services["worker"]
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_api_and_workers_share_settings_and_the_file_volume():
    data = compose()
    services = data["services"]
    api_env, worker_env = dict(services["api"]["environment"]), services["worker"]["environment"]
    proxy_trust = api_env.pop("FORWARDED_ALLOW_IPS")  # uvicorn's own setting, for the api only
    assert api_env == worker_env
    # Client addresses (per-address login limits) are taken only from the frontend's nginx, at a fixed address.
    assert proxy_trust == services["frontend"]["networks"]["default"]["ipv4_address"] != "*"
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


def test_migrations_run_once_before_the_api_and_the_workers():
    services = compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["digitlab", "migrate"]
    assert migrate["image"] == services["api"]["image"] and migrate["environment"] == services["worker"]["environment"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    # One-shot: it exits when done and is not restarted, nor scaled, nor published.
    assert migrate["restart"] == "no"
    assert not {"healthcheck", "ports", "deploy", "container_name"} & set(migrate)
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy", name
        # Replicas never migrate by themselves (two starting at once would race on the schema).
        settings = Settings(
            **{
                key.removeprefix("DIGITLAB_").lower(): value
                for key, value in services[name]["environment"].items()
                if key == "DIGITLAB_MIGRATE_ON_START"
            }
        )
        assert settings.migrate_on_start is False, name
    # Nothing else waits for the migration, and nothing the migration needs waits for the api.
    waiting = {name for name, service in services.items() if "migrate" in service.get("depends_on", {})}
    assert waiting == {"api", "worker"}
    assert set(migrate["depends_on"]) == {"postgres"}


def test_dockerfile_installs_dependencies_before_it_copies_the_source(tmp_path):
    """A code change must not reinstall TensorFlow: the dependency layer depends on the dependency list only."""
    import subprocess

    text = (REPO / "Dockerfile").read_text()
    lines = [line.strip() for line in text.replace("\\\n", "").splitlines()]
    stages = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    final = lines[stages[-1] :]  # the api/worker image
    assert final[0] == "FROM python:3.11-slim"
    install_deps = final.index("RUN pip install -r /tmp/requirements.txt")
    copy_source = final.index("COPY backend ./backend")
    assert final.index("COPY --from=requirements /src/requirements.txt /tmp/requirements.txt") < install_deps
    assert install_deps < copy_source < final.index("RUN pip install --no-deps . && pip check")
    assert not any(line.startswith("COPY") for line in final[:install_deps] if "--from=requirements" not in line)
    # The requirements stage sees pyproject.toml only, and writes exactly the project's dependencies.
    stage = lines[lines.index("FROM python:3.11-slim AS requirements") :]
    stage = stage[: next(i for i, line in enumerate(stage) if i and line.startswith("FROM "))]
    assert [line for line in stage if line.startswith("COPY")] == ["COPY pyproject.toml ./"]
    (command,) = [line.removeprefix("RUN ") for line in stage if line.startswith("RUN ")]
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    subprocess.run(["sh", "-c", command.replace("python ", f"{sys.executable} ", 1)], cwd=tmp_path, check=True)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert (tmp_path / "requirements.txt").read_text().splitlines() == project["dependencies"]


def test_dockerfile_builds_one_image_for_api_and_workers():
    text = (REPO / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text
    assert "npm ci" in text
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
    result = subprocess.run(
        [tool, "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((REPO / "docker-compose.yml").read_text().replace("healthcheck:", "healthcheck_typo:", 1))
    result = subprocess.run(
        [tool, "-f", str(broken), "config", "-q"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0  # the parser really checks the schema
