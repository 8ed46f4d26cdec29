"""How a job behaves, whichever backend runs it: the embedded runner and Celery (with the real local Redis and
PostgreSQL) must pass the same tests. Extraction jobs of synthetic grid pages are the work: a page takes a
fraction of a second, so a job of several pages can be watched, cancelled or killed half-way.

The stale limit is short here (backends.STALE), and the tests still hold on a busy machine: heartbeats come
from the process that supervises a job, not from the job's own, so a job is never given up for being slow.
"""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import Session

from digitlab.classes.tables import ClassMember, ClassRole, SchoolClass
from digitlab.core.clock import utcnow
from digitlab.jobs import states
from digitlab.jobs.tables import Job
from tests.api.helpers import new_project, new_user, start_extraction, start_long_extraction, upload_pages
from tests.api.trainings import (
    assert_valid_messages,
    digits,
    import_samples,
    message_validator,
    read_until_end,
    receive_json,
    socket_url,
    start_training,
    trainings_url,
    wait_for_training,
)
from tests.conftest import job_working, wait_for_job, wait_until
from tests.jobs.backends import LIMIT, STALE, Backend, pause_outside_writes


@pytest.fixture(scope="module")
def user(backend: Backend):
    return new_user(backend.client, "jobs")


def get_job(backend: Backend, user, job_id: int) -> dict:
    response = backend.client.get(f"/api/jobs/{job_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def cancel(backend: Backend, user, job_id: int):
    return backend.client.post(f"/api/jobs/{job_id}/cancel", headers=user.headers)


def insert_job(engine, project: dict, user_id: int, **values) -> int:
    """A job row as another process (or a previous life of this service) left it."""
    with Session(engine) as session:
        job = Job(project_id=project["id"], owner_id=user_id, kind="extraction", **({"params": {}} | values))
        session.add(job)
        session.commit()
        assert job.id is not None
        return job.id


def user_id(backend: Backend, user) -> int:
    return backend.client.get("/api/auth/me", headers=user.headers).json()["id"]


def hold(backend: Backend, job_id: int) -> int:
    """Stop the job's process at a moment it holds no database lock (backends.pause_outside_writes); its pid."""
    return pause_outside_writes(backend.job_pid(job_id), backend.settings.resolved_database_url, job_id)


def worker_pid(backend: Backend, job_id: int) -> int:
    """The pid of the process that ran (or runs) the job, as its row says ("host:pid")."""
    worker = backend.job(job_id).worker
    assert worker, f"job {job_id} was never claimed"
    return int(worker.rpartition(":")[2])


def loads_tensorflow(pid: int) -> bool:
    return "tensorflow" in Path(f"/proc/{pid}/maps").read_text()


def dead_pid() -> int:
    """The pid of a process of this host that has ended (what a crashed service or worker leaves in its rows)."""
    return int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
        ).stdout
    )


def test_an_enqueued_job_runs_to_the_end(backend, user):
    project = new_project(backend.client, user, "enqueue")
    [scan] = upload_pages(backend.client, user, project["id"], 1, seed=1)
    job = start_extraction(backend.client, user, project["id"])
    assert job["status"] in ("queued", "running") and job["kind"] == "extraction"
    assert job["params"] == {"scan_ids": [scan["id"]]}

    done = wait_for_job(backend.client, user, job["id"])
    assert done["status"] == "succeeded", (done, backend.log())
    assert done["progress"] == 1.0 and done["error"] is None
    assert [page["status"] for page in done["result"]["pages"]] == ["ok"]
    assert datetime.fromisoformat(done["started_at"]) <= datetime.fromisoformat(done["finished_at"])
    assert backend.job(job["id"]).worker  # the claiming process, "host:pid"


def test_progress_is_reported_while_the_job_runs(backend, user):
    project = new_project(backend.client, user, "progress")
    upload_pages(backend.client, user, project["id"], 8, seed=10)
    job = start_extraction(backend.client, user, project["id"])
    seen = []

    def finished(current: dict) -> bool:
        seen.append((current["status"], current["progress"], current["message"]))
        return current["status"] in ("succeeded", "failed", "cancelled")

    done = wait_for_job(backend.client, user, job["id"], until=finished)
    assert done["status"] == "succeeded", (done, backend.log())
    midway = [(progress, message) for status, progress, message in seen if status == "running" and 0 < progress < 1]
    assert midway, f"no progress seen between 0 and 1: {seen}"
    assert all(message.startswith("Page ") and message.endswith(" of 8") for _, message in midway)
    progresses = [progress for _, progress, _ in seen]
    assert progresses == sorted(progresses) and progresses[-1] == 1.0


def test_no_more_jobs_run_at_once_than_the_limit(backend, user):
    """LIMIT jobs run side by side, and the next waits in the queue until one of them ends. The running ones are
    held (their processes stopped) while the test looks, so how long a page takes does not matter."""
    project = new_project(backend.client, user, "limit")
    upload_pages(backend.client, user, project["id"], 4, seed=20)
    held = []
    try:
        for _ in range(LIMIT):
            job = start_extraction(backend.client, user, project["id"])
            wait_for_job(backend.client, user, job["id"], until=job_working)
            held.append((job, hold(backend, job["id"])))
        waiting = start_extraction(backend.client, user, project["id"])
        time.sleep(3)
        assert get_job(backend, user, waiting["id"])["status"] == "queued"
    finally:
        for _, pid in held:
            os.kill(pid, signal.SIGCONT)
    done = [wait_for_job(backend.client, user, job["id"]) for job in [job for job, _ in held] + [waiting]]
    assert [job["status"] for job in done] == ["succeeded"] * (LIMIT + 1), backend.log()
    # The one that waited started only when one of the others had ended.
    assert datetime.fromisoformat(done[-1]["started_at"]) >= min(
        datetime.fromisoformat(job["finished_at"]) for job in done[:-1]
    )


def test_cancel_a_queued_and_a_running_job(backend, user):
    project = new_project(backend.client, user, "cancel")
    upload_pages(backend.client, user, project["id"], 24, seed=30)
    running = [start_extraction(backend.client, user, project["id"]) for _ in range(LIMIT)]
    queued = start_extraction(backend.client, user, project["id"])
    # Each running job is held (SIGSTOP) as soon as it is inside its work, so that neither can finish before
    # the test has looked at the queue and asked to cancel: a fast machine would otherwise outrun the test.
    held: list[int] = []
    for job in running:
        wait_for_job(backend.client, user, job["id"], until=job_working)
        held.append(hold(backend, job["id"]))
    try:
        assert get_job(backend, user, queued["id"])["status"] == "queued"

        response = cancel(backend, user, queued["id"])
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled" and response.json()["message"] == "Cancelled."

        response = cancel(backend, user, running[0]["id"])
        assert response.status_code == 200, response.text
        assert response.json()["status"] in ("running", "cancelled")
    finally:
        for pid in held:
            os.kill(pid, signal.SIGCONT)
    ended = wait_for_job(backend.client, user, running[0]["id"], timeout=30)
    assert ended["status"] == "cancelled" and ended["finished_at"] is not None, (ended, backend.log())
    assert ended["progress"] < 1  # stopped half-way (a job that ignored the request would have succeeded)

    assert wait_for_job(backend.client, user, running[1]["id"])["status"] == "succeeded", backend.log()
    assert cancel(backend, user, queued["id"]).status_code == 409  # finished: nothing to cancel
    assert cancel(backend, user, running[1]["id"]).json()["code"] == "job_finished"
    time.sleep(1)  # a queue message of the cancelled job may still be delivered: it must not run
    never_ran = get_job(backend, user, queued["id"])
    assert never_ran["status"] == "cancelled" and never_ran["started_at"] is None


def test_a_lost_worker_ends_its_job_with_a_reason(backend, user):
    project = new_project(backend.client, user, "lost")
    job = start_long_extraction(backend.client, user, project["id"], pages=12, seed=50)
    killed_pid = backend.job_pid(job["id"])
    os.kill(killed_pid, signal.SIGKILL)
    killed = time.monotonic()
    ended = wait_for_job(backend.client, user, job["id"], timeout=STALE + 30)
    assert (ended["status"], ended["error"]) == ("failed", states.LOST_REASON.sentence), (ended, backend.log())
    assert (ended["error_code"], ended["error_params"]) == ("job_worker_lost", None)
    assert time.monotonic() - killed < STALE  # its supervisor saw the process die: no wait for the stale limit

    time.sleep(1)  # a queue message that came back with the lost worker must not run it again
    assert get_job(backend, user, job["id"])["status"] == "failed"
    # Nothing uploaded is lost, and the backend still runs jobs.
    for scan in backend.client.get(f"/api/projects/{project['id']}/scans", headers=user.headers).json():
        assert backend.client.get(scan["original_url"], headers=user.headers).status_code == 200
    again = wait_for_job(backend.client, user, start_extraction(backend.client, user, project["id"])["id"])
    assert again["status"] == "succeeded", (again, backend.log())
    # The pool replaced the killed warm process: a live one ran it, and stays for the next job.
    assert worker_pid(backend, again["id"]) != killed_pid
    assert Path(f"/proc/{worker_pid(backend, again['id'])}").exists()


def test_a_slow_job_is_not_declared_lost(backend, user):
    """The job's process gets no CPU at all for longer than the stale limit (stopped by the OS: the extreme of a
    busy machine, or of TensorFlow importing); it is still alive, so it goes on and succeeds."""
    project = new_project(backend.client, user, "slow")
    job = start_long_extraction(backend.client, user, project["id"], pages=6, seed=60)
    pid = hold(backend, job["id"])
    try:
        time.sleep(STALE + 2)
        assert get_job(backend, user, job["id"])["status"] == "running", backend.log()
    finally:
        os.kill(pid, signal.SIGCONT)
    done = wait_for_job(backend.client, user, job["id"])
    assert done["status"] == "succeeded", (done, backend.log())


def test_a_job_whose_worker_went_silent_is_ended_by_the_sweep(backend, user):
    """A job claimed by a worker on another machine that is gone: nobody beats for it any more."""
    project = new_project(backend.client, user, "silent")
    long_ago = utcnow() - timedelta(minutes=10)
    engine, owner = backend.client.app.state.engine, user_id(backend, user)
    silent = insert_job(
        engine, project, owner, status="running", worker="gone-host:17", started_at=long_ago, heartbeat_at=long_ago
    )
    alive = insert_job(
        engine, project, owner, status="running", worker="other-host:18", started_at=long_ago, heartbeat_at=utcnow()
    )
    ended = wait_for_job(backend.client, user, silent, timeout=STALE + 10)
    assert (ended["status"], ended["error"]) == ("failed", states.LOST_REASON.sentence)
    assert ended["error_code"] == "job_worker_lost"
    assert get_job(backend, user, alive)["status"] == "running"  # its worker beat recently


def test_restart_ends_interrupted_jobs_and_runs_queued_ones(backend, user):
    """The service stops and starts again: a job that a process of this host which no longer exists was running
    ends with a reason, a job queued meanwhile runs, and a job another live machine runs is left alone."""
    project = new_project(backend.client, user, "restart")
    [scan] = upload_pages(backend.client, user, project["id"], 1, seed=70)
    owner, host = user_id(backend, user), socket.gethostname()
    made: dict[str, int] = {}

    def while_down(engine) -> None:
        made["interrupted"] = insert_job(
            engine,
            project,
            owner,
            status="running",
            worker=f"{host}:{dead_pid()}",
            started_at=utcnow(),
            heartbeat_at=utcnow(),
        )
        made["queued"] = insert_job(engine, project, owner, params={"scan_ids": [scan["id"]]})
        # Beating on another machine (its heartbeat ahead, so that it stays fresh during this test).
        made["elsewhere"] = insert_job(
            engine,
            project,
            owner,
            status="running",
            worker="other-host:19",
            started_at=utcnow(),
            heartbeat_at=utcnow() + timedelta(minutes=5),
        )

    backend.restart(while_down)
    interrupted = wait_for_job(backend.client, user, made["interrupted"], timeout=10)
    assert (interrupted["status"], interrupted["error"]) == ("failed", states.RESTART_REASON.sentence)
    assert interrupted["error_code"] == "job_interrupted"
    queued = wait_for_job(backend.client, user, made["queued"])
    assert queued["status"] == "succeeded", (queued, backend.log())
    assert get_job(backend, user, made["elsewhere"])["status"] == "running"


# --- warm extraction processes, the fair queue, waiting in a lesson ----------------------------------------------
def test_extractions_run_in_warm_processes_that_take_job_after_job_without_tensorflow(backend, user):
    """No process is started per extraction: a few warm ones (LIMIT) take them one after another, stay for the
    next, and never load TensorFlow; none of them is the API's process."""
    project = new_project(backend.client, user, "warm")
    scans = upload_pages(backend.client, user, project["id"], 2, seed=90)
    pids = []
    for round_ in range(2 * LIMIT):
        job = start_extraction(backend.client, user, project["id"], [scans[round_ % 2]["id"]])
        done = wait_for_job(backend.client, user, job["id"])
        assert done["status"] == "succeeded", (done, backend.log())
        pids.append(worker_pid(backend, job["id"]))
    assert len(set(pids)) <= LIMIT and len(set(pids)) < len(pids), pids  # some process ran several jobs
    for pid in set(pids):
        assert pid != os.getpid()
        assert Path(f"/proc/{pid}").exists(), f"warm process {pid} went away after its job"
        assert not loads_tensorflow(pid)


def _in_class(backend: Backend, students: list, class_name: str) -> None:
    """The users become students of a new class (as the classes' service records a join)."""
    engine = backend.client.app.state.engine
    ids = [user_id(backend, student) for student in students]  # before the session's write: the API writes too
    with Session(engine) as session:
        school_class = SchoolClass(name=class_name, delete_after=utcnow() + timedelta(days=300))
        session.add(school_class)
        session.flush()
        for number, student_id in enumerate(ids, start=1):
            session.add(
                ClassMember(
                    class_id=school_class.id,
                    user_id=student_id,
                    role=ClassRole.STUDENT,
                    writer_number=number,
                )
            )
        session.commit()


def test_a_class_that_queued_later_is_not_starved_by_a_busy_one(backend):
    """Class A fills every extraction slot and queues two more; then a student of class B and a student in no
    class queue one each. They are next (places 1 and 2 in the job's JSON), and start before class A's."""
    client = backend.client
    busy, b_student, solo = (new_user(client, name) for name in ("fair-a", "fair-b", "fair-solo"))
    _in_class(backend, [busy], "class A")
    _in_class(backend, [b_student], "class B")
    busy_project = new_project(client, busy, "class A")
    running, held = [], []
    try:
        for i in range(LIMIT):
            running.append(start_long_extraction(client, busy, busy_project["id"], pages=8, seed=100 + 10 * i))
            held.append(hold(backend, running[-1]["id"]))
        [first_scan] = upload_pages(client, busy, busy_project["id"], 1, seed=130)
        a_waiting = [start_extraction(client, busy, busy_project["id"], [first_scan["id"]]) for _ in range(2)]
        others = []
        for student, seed in ((b_student, 140), (solo, 150)):
            project = new_project(client, student, "fair")
            upload_pages(client, student, project["id"], 1, seed=seed)
            others.append(start_extraction(client, student, project["id"]))
        waiting = [*others, *a_waiting]
        places = [
            get_job(backend, user_of, job["id"])["queue"]
            for user_of, job in zip([b_student, solo, busy, busy], waiting, strict=True)
        ]
        assert [place["position"] for place in places] == [1, 2, 3, 4], places
        for place in places:
            assert place["jobs_ahead"] == place["position"] - 1
            assert place["estimated_start"] <= place["estimated_end"]
            assert 0 <= place["seconds_to_start"] <= place["seconds_to_end"]
        assert [p["estimated_start"] for p in places] == sorted(p["estimated_start"] for p in places)
    finally:
        for pid in held:
            os.kill(pid, signal.SIGCONT)
    owners = [b_student, solo, busy, busy]
    done = [wait_for_job(client, owner, job["id"]) for owner, job in zip(owners, waiting, strict=True)]
    assert [job["status"] for job in done] == ["succeeded"] * 4, backend.log()
    assert all(job["queue"] is None for job in done)  # no place once it ran
    started = [datetime.fromisoformat(job["started_at"]) for job in done]
    assert max(started[:2]) <= min(started[2:]), started  # B and the lone student before A's waiting jobs
    for job in running:
        wait_for_job(client, busy, job["id"])


def test_a_waiting_training_sees_its_place_and_estimates_as_the_queue_moves(backend, user):
    """Every training slot is busy: a waiting training's stream says its place and when it should start and
    end (the training's and the job's JSON too), says it again when the queue moves, and then the training runs."""
    client = backend.client
    project = new_project(client, user, "waiting")
    x, y = digits(12, seed=5)
    import_samples(client, user, project["id"], x, y)
    busy = [start_training(client, user, project["id"], epochs=500, seed=i) for i in range(LIMIT)]
    for training in busy:
        wait_until(lambda t=training: backend.job(t["job_id"]), lambda job: job.status == "running", 180, "busy")
    # The first waiting one runs long once it has a slot: a short one ended at once on an idle machine, and the
    # watched one took its slot before the stream could say "next in line".
    waiting = [start_training(client, user, project["id"], epochs=epochs, seed=10 + i) for i, epochs in
               enumerate((500, 1))]
    try:
        with client.websocket_connect(socket_url(waiting[1], user)) as ws:
            status = receive_json(ws, timeout=60)
            assert (status["type"], status["status"]) == ("status", "queued")
            place = receive_json(ws, timeout=60)
            assert message_validator().is_valid(place), place
            assert (place["type"], place["position"], place["jobs_ahead"]) == ("queue", 2, 1), place
            assert place["estimated_start"] < place["estimated_end"]
            url = trainings_url(project["id"], waiting[1]["id"])
            assert client.get(url, headers=user.headers).json()["queue"]["position"] == 2
            assert get_job(backend, user, waiting[1]["job_id"])["queue"]["position"] == 2

            cancel(backend, user, busy[0]["job_id"])  # the first waiting one takes the free slot
            updates = [receive_json(ws, timeout=120)]
            while updates[-1]["type"] == "queue" and updates[-1]["position"] == 2:  # estimates that moved
                updates.append(receive_json(ws, timeout=120))
            moved = updates[-1]
            assert (moved["type"], moved["position"], moved["jobs_ahead"]) == ("queue", 1, 0), updates

            cancel(backend, user, busy[1]["job_id"])  # now it runs
            rest = read_until_end(ws, timeout=300)
        kinds = [m["type"] for m in rest if m["type"] not in ("progress", "epoch")]
        waited = kinds.index("started")  # until then, next in line (its estimates may have moved)
        assert kinds[:waited] == ["queue"] * waited and all(m["position"] == 1 for m in rest[:waited]), rest
        assert kinds[waited:] == ["started", "end"], rest
        assert rest[-1]["status"] == "succeeded", (rest[-1], backend.log())
        assert_valid_messages(message_validator(), [status, place, *updates, *rest])
    finally:
        for training in busy + waiting:
            cancel(backend, user, training["job_id"])
    for training in busy + waiting:
        wait_for_training(client, user, training, timeout=180)
