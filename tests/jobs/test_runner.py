"""What only the embedded runner does (the behaviour both backends share is in test_behaviour.py)."""

import time

from fastapi.testclient import TestClient
from sqlmodel import Session

from digitlab.jobs.tables import Job
from digitlab.main import create_app
from tests.api.helpers import new_project, new_user, start_extraction, upload_pages
from tests.api.trainings import digits, import_samples, start_training, wait_for_training
from tests.conftest import make_settings, wait_for_job


def test_a_training_is_handed_to_the_prewarmed_spare_worker(tmp_path):
    """With job_prewarm the spare process (code already imported) runs the next training, and a new spare
    follows; extractions never use it (they have their warm processes)."""
    settings = make_settings(tmp_path / "data", job_prewarm=True)
    with TestClient(create_app(settings)) as client:
        runner = client.app.state.runner
        user = new_user(client, "eva")
        project = new_project(client, user)
        upload_pages(client, user, project["id"], 1, seed=7)
        x, y = digits(6, seed=7)
        import_samples(client, user, project["id"], x, y)
        deadline = time.monotonic() + 60
        while runner._standby is None:
            assert time.monotonic() < deadline, "no spare worker"
            time.sleep(0.1)
        spare = runner._standby[0]
        extraction = wait_for_job(client, user, start_extraction(client, user, project["id"])["id"], timeout=90)
        assert extraction["status"] == "succeeded", extraction
        assert runner._standby is not None and runner._standby[0].pid == spare.pid  # still waiting for a training

        training = start_training(client, user, project["id"], architecture="mlp", epochs=1)
        done = wait_for_training(client, user, training, timeout=180)
        assert done["status"] == "succeeded", done
        # A spare exits only after running the job it was handed (niced, with TensorFlow to tear down: on a
        # busy machine that takes a while).
        spare.join(timeout=90)
        assert spare.exitcode == 0
        deadline = time.monotonic() + 60
        while runner._standby is None or runner._standby[0].pid == spare.pid:
            assert time.monotonic() < deadline, "no new spare worker after the job"
            time.sleep(0.1)


def test_a_warm_process_is_replaced_after_its_number_of_jobs(tmp_path):
    """extraction_max_jobs 2, one warm process: the third extraction runs in a new process, the first two in one."""
    settings = make_settings(tmp_path / "data", extraction_concurrency=1, extraction_max_jobs=2)
    with TestClient(create_app(settings)) as client:
        user = new_user(client, "ole")
        project = new_project(client, user)
        upload_pages(client, user, project["id"], 1, seed=8)
        engine = client.app.state.engine
        workers = []
        for _ in range(3):
            done = wait_for_job(client, user, start_extraction(client, user, project["id"])["id"], timeout=90)
            assert done["status"] == "succeeded", done
            with Session(engine) as session:
                workers.append(session.get(Job, done["id"]).worker)
        assert workers[0] == workers[1] != workers[2], workers
