"""Suspicious samples first through the service: a label check runs as a job and orders each label's samples."""

import numpy as np
import pytest

from tests.api.trainings import digits, import_samples
from tests.conftest import wait_for_job


def checks_url(project_id: int) -> str:
    return f"/api/projects/{project_id}/label-checks"


def test_a_project_without_enough_samples_cannot_be_checked(client, alice, make_project):
    project = make_project(alice)
    response = client.post(checks_url(project["id"]), headers=alice.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "dataset_too_small"
    assert client.get(checks_url(project["id"]), headers=alice.headers).json() == []


@pytest.mark.slow
def test_mislabelled_samples_come_first_and_a_fix_takes_them_off(client, alice, bob, make_project):
    project = make_project(alice)
    x, y = digits(40, seed=5)
    rng = np.random.default_rng(2)
    flipped = rng.choice(len(y), size=8, replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, 10, len(flipped))) % 10
    import_samples(client, alice, project["id"], x, noisy)
    cells = client.get(
        f"/api/projects/{project['id']}/dataset/cells", params={"limit": 1000}, headers=alice.headers
    ).json()["items"]
    assert [c["label"] for c in cells] == [str(v) for v in noisy]  # stored in the file's order
    flipped_ids = {cells[i]["id"]: str(y[i]) for i in flipped}

    check = client.post(checks_url(project["id"]), headers=alice.headers)
    assert check.status_code == 202, check.text
    check = check.json()
    assert check["status"] in ("queued", "running")
    again = client.post(checks_url(project["id"]), headers=alice.headers).json()
    assert again["id"] == check["id"]  # one check at a time
    assert client.post(checks_url(project["id"]), headers=bob.headers).status_code == 404

    job = wait_for_job(client, alice, check["job_id"], timeout=300)
    assert job["status"] == "succeeded", job
    done = client.get(f"{checks_url(project['id'])}/{check['id']}", headers=alice.headers).json()
    assert done["samples"] == len(y) and done["finished_at"] is not None
    assert 0 < done["issues"] <= 4 * len(flipped)

    scores = []
    for label in "0123456789":
        page = client.get(
            f"{checks_url(project['id'])}/{check['id']}/scores", params={"label": label}, headers=alice.headers
        ).json()
        ranks = [(not s["issue"], s["quality"]) for s in page]
        assert ranks == sorted(ranks)  # most suspicious first: the likely issues, then by quality
        scores += page
    assert len(scores) == len(y)
    worst = {s["cell_id"] for s in sorted(scores, key=lambda s: (not s["issue"], s["quality"]))[: len(y) // 10]}
    assert len(worst & set(flipped_ids)) >= 6, "most flipped samples among the 10 % the check trusts least"
    by_id = {s["cell_id"]: s for s in scores}
    assert sum(by_id[cell_id]["suggested"] == truth for cell_id, truth in flipped_ids.items()) >= 5

    # The fix: the suggested label. A relabelled sample leaves its old label's order (its score was about that).
    cell_id, truth = next((c, t) for c, t in flipped_ids.items() if by_id[c]["suggested"] == t)
    old = next(c["label"] for c in cells if c["id"] == cell_id)
    fixed = client.patch(
        f"/api/projects/{project['id']}/dataset/cells/{cell_id}", json={"label": truth}, headers=alice.headers
    )
    assert fixed.status_code == 200
    page = client.get(
        f"{checks_url(project['id'])}/{check['id']}/scores", params={"label": old}, headers=alice.headers
    ).json()
    assert cell_id not in {s["cell_id"] for s in page}

    unknown = client.get(
        f"{checks_url(project['id'])}/{check['id']}/scores", params={"label": "z"}, headers=alice.headers
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_label"
    assert (
        client.get(
            f"{checks_url(project['id'])}/{check['id']}/scores", params={"label": "1"}, headers=bob.headers
        ).status_code
        == 404
    )

    # A newer check replaces the older one's scores once it has finished.
    newer = client.post(checks_url(project["id"]), headers=alice.headers).json()
    assert newer["id"] != check["id"]
    assert wait_for_job(client, alice, newer["job_id"], timeout=300)["status"] == "succeeded"
    assert [c["id"] for c in client.get(checks_url(project["id"]), headers=alice.headers).json()] == [newer["id"]]
