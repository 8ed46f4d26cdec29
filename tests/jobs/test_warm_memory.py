"""A warm extraction process is memory-capped like a training's (digitlab.jobs.limits): a page that needs more than
the cap fails its job with a sentence for the student, and the pool goes on with a new process; on both backends.

The cap is set a little above what a warm process holds before its first job (measured here, in a process that
imports what a warm one imports), so that an ordinary page fits and a page of a quarter of a gigapixel does not.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from digitlab.jobs import limits
from tests.api import scanpages
from tests.api.helpers import new_project, new_user, start_extraction, upload_files, upload_pages
from tests.conftest import wait_for_job
from tests.jobs.backends import REPO, Backend
from tests.jobs.conftest import BACKENDS, running_backend

HUGE_PAGE = (12_500, 20_000)  # 250 megapixels: a quarter of a gigabyte once decoded
ROOM_MB = 120  # above a warm process's memory before its first job: an ordinary page needs ~50


def _cgroup_usable() -> bool:
    group = limits.current_memory_cgroup()
    return os.geteuid() == 0 and group is not None and os.access(group, os.W_OK)


def _warm_baseline_mb() -> int:
    """What the cap counts of a warm process before its first job: its resident memory under a cgroup, its data
    segment under RLIMIT_DATA."""
    probe = (
        "import json; from digitlab.jobs import registry, worker; registry.preload_warm(); "
        "status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines()); "
        "print(json.dumps({key: int(status[key].split()[0]) // 1024 for key in ('VmRSS', 'VmData')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "backend")},
    ).stdout
    sizes = json.loads(out)
    return sizes["VmRSS"] if _cgroup_usable() else sizes["VmData"]


@pytest.fixture(scope="module", params=BACKENDS)
def capped(request, tmp_path_factory) -> Iterator[Backend]:
    cap = _warm_baseline_mb() + ROOM_MB
    with running_backend(
        request.param,
        tmp_path_factory.mktemp(f"capped-{request.param}"),
        extraction_memory_limit_mb=cap,
        max_page_pixels=HUGE_PAGE[0] * HUGE_PAGE[1],
    ) as started:
        yield started


def test_a_page_over_the_warm_process_cap_fails_its_job_cleanly_and_the_pool_goes_on(capped):
    client = capped.client
    user = new_user(client, "capped")
    project = new_project(client, user, "huge page")
    huge = np.full(HUGE_PAGE, 255, np.uint8)
    cv2.rectangle(huge, (500, 500), (HUGE_PAGE[1] - 500, HUGE_PAGE[0] - 500), 0, 20)
    [scan] = upload_files(client, user, project["id"], ("huge.png", cv2.imencode(".png", huge)[1].tobytes()))
    del huge

    failed = wait_for_job(client, user, start_extraction(client, user, project["id"])["id"], timeout=180)
    assert failed["status"] == "failed", (failed, capped.log())
    cap = capped.settings.extraction_memory_limit_mb
    if _cgroup_usable():  # the kernel stopped the process at its cap: its supervisor says why
        assert failed["error"] == limits.memory_limit_message(cap, limits.EXTRACTION), (failed, capped.log())
        assert (failed["error_code"], failed["error_params"]) == ("extraction_memory_limit", {"limit_mb": cap})
    assert "Traceback" not in failed["error"] and "MemoryError" not in failed["error"]
    listed = client.get(f"/api/projects/{project['id']}/scans/{scan['id']}", headers=user.headers)
    assert listed.status_code == 200  # the upload is kept

    # The pool carries on: an ordinary page is extracted by a warm process under the same cap.
    other = new_project(client, user, "ordinary page")
    upload_pages(client, user, other["id"], 1, seed=3)
    done = wait_for_job(client, user, start_extraction(client, user, other["id"])["id"], timeout=180)
    assert done["status"] == "succeeded", (done, capped.log())
    assert done["result"]["kept"] >= 0.9 * len(scanpages.default_cells(seed=3))
