"""Issue 8, point 3: networks that pass validation must not kill their worker.

The two networks from the report are refused before anything is queued, by the summary and by starting a
training, with the one error shape; the presets still pass and their summary shows the memory estimate; and a
training that still goes over its process's memory cap fails with a sentence for the student while the
service goes on.
"""

import pytest
from fastapi.testclient import TestClient

from digitlab.jobs import limits
from digitlab.main import create_app
from tests.api.helpers import new_project, new_user
from tests.api.trainings import digits, import_samples, start_training, trainings_url, wait_for_training
from tests.conftest import make_settings

SAME_1X1_700 = {"kind": "conv2d", "filters": 700, "kernel_size": 1, "padding": "same"}
# 989,810 parameters (under the 2 M budget), ~9 GB of activations per layer at batch 4096: OOM-killed.
ISSUE_MEMORY = {"architecture": "custom", "batch_size": 4096,
                "layers": [SAME_1X1_700, SAME_1X1_700, SAME_1X1_700, {"kind": "max_pooling2d", "pool_size": 28},
                           {"kind": "flatten"}]}
# Accepted, and TensorFlow aborted the worker (exit -6).
ISSUE_KERNEL = {"architecture": "custom",
                "layers": [{"kind": "conv2d", "filters": 1, "kernel_size": 1000, "padding": "same"},
                           {"kind": "flatten"}]}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    settings = make_settings(tmp_path_factory.mktemp("training-memory") / "data")
    with TestClient(create_app(settings)) as client:
        user = new_user(client, "maria")
        project = new_project(client, user, "digits")
        x, y = digits(30, seed=5)
        import_samples(client, user, project["id"], x, y)
        yield client, user, project


def _nothing_queued(client, user, project) -> None:
    assert client.get(trainings_url(project["id"]), headers=user.headers).json() == []
    assert client.get(f"/api/projects/{project['id']}/jobs", headers=user.headers).json() == []


def _refused_everywhere(client, user, project, body: dict) -> list[dict]:
    errors = []
    for url in (f"{trainings_url(project['id'])}/summary", trainings_url(project["id"])):
        response = client.post(url, json=body, headers=user.headers)
        assert response.status_code == 422, (url, response.text)
        error = response.json()
        assert isinstance(error["detail"], str) and isinstance(error["code"], str), error
        errors.append(error)
    assert errors[0] == errors[1]  # the summary says exactly what starting would say
    _nothing_queued(client, user, project)
    return errors


def test_the_issue_network_that_needs_9_gb_is_refused_for_its_memory(service):
    client, user, project = service
    error = _refused_everywhere(client, user, project, ISSUE_MEMORY)[0]
    assert error["code"] == "training_memory_too_large"
    assert "batch size of 4,096" in error["detail"] and "3,072 MB" in error["detail"]
    assert "batch size of at most" in error["detail"] and "fewer filters" in error["detail"]
    assert error["estimated_mb"] > error["limit_mb"] == 3072


def test_the_issue_network_with_a_1000x1000_kernel_is_refused_for_its_shape(service):
    client, user, project = service
    error = _refused_everywhere(client, user, project, ISSUE_KERNEL)[0]
    assert error["code"] == "invalid_network"
    assert error["layer_index"] == 0 and error["layer_name"] == "conv2d"
    assert "1000x1000 kernel is larger than its 28x28 input" in error["detail"]


@pytest.mark.parametrize("architecture, total", [("mlp", 89_610), ("cnn", 225_034)])
def test_presets_pass_and_their_summary_shows_the_memory(service, architecture, total):
    client, user, project = service
    response = client.post(f"{trainings_url(project['id'])}/summary", json={"architecture": architecture},
                           headers=user.headers)
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["total_params"] == total
    memory = summary["memory"]
    assert memory["batch_size"] == 32 and memory["samples"] == 300 and memory["limit_mb"] == 3072
    assert memory["estimated_mb"] == (memory["activations_mb"] + memory["parameters_mb"] + memory["dataset_mb"]
                                      + memory["overhead_mb"])
    assert memory["estimated_mb"] < 1_100
    largest = client.post(f"{trainings_url(project['id'])}/summary",
                          json={"architecture": architecture, "batch_size": 4096}, headers=user.headers)
    assert largest.status_code == 200, largest.text
    assert largest.json()["memory"]["batch_size"] == 4096


def test_the_summary_takes_the_batch_size_with_the_training_limits(service):
    client, user, project = service
    for batch_size in (0, 4097, "32"):
        response = client.post(f"{trainings_url(project['id'])}/summary",
                               json={"architecture": "mlp", "batch_size": batch_size}, headers=user.headers)
        assert response.status_code == 422, response.text
        assert "batch_size" in response.json()["detail"]


def test_the_memory_limit_is_a_setting(tmp_path):
    # The CNN on 300 samples: ~970 MB at batch 32, ~1,090 MB at batch 300 and beyond (a batch is never larger
    # than the dataset).
    settings = make_settings(tmp_path / "data", max_training_memory_mb=1000)
    with TestClient(create_app(settings)) as client:
        user = new_user(client, "nora")
        project = new_project(client, user, "digits")
        x, y = digits(30, seed=6)
        import_samples(client, user, project["id"], x, y)
        url = f"{trainings_url(project['id'])}/summary"
        assert client.post(url, json={"architecture": "cnn"}, headers=user.headers).status_code == 200
        refused = client.post(trainings_url(project["id"]), json={"architecture": "cnn", "batch_size": 4096},
                              headers=user.headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "training_memory_too_large" and "1,000 MB" in refused.json()["detail"]
        _nothing_queued(client, user, project)


@pytest.mark.slow
def test_a_training_over_its_process_cap_fails_with_a_sentence_and_the_service_goes_on(tmp_path):
    """The estimate's limit is off and the process cap far below what TensorFlow needs: the job dies of its cap
    (cgroup: killed; rlimit: its allocations fail), the student reads why, and the next request is served."""
    settings = make_settings(tmp_path / "data", max_training_memory_mb=0, training_memory_limit_mb=300)
    with TestClient(create_app(settings)) as client:
        user = new_user(client, "olga")
        project = new_project(client, user, "digits")
        x, y = digits(10, seed=7)
        import_samples(client, user, project["id"], x, y)
        training = start_training(client, user, project["id"], architecture="mlp", epochs=1)
        ended = wait_for_training(client, user, training, timeout=120)
        assert ended["status"] == "failed", ended
        assert ended["error"] == limits.memory_limit_message(300), ended
        assert (ended["error_code"], ended["error_params"]) == ("training_memory_limit", {"limit_mb": 300}), ended
        assert client.get("/api/health").status_code == 200
        assert client.get(trainings_url(project["id"]), headers=user.headers).status_code == 200
