"""Ids are never handed out twice: a stale link or WebSocket to a deleted thing must never reach another
user's new thing. (Plain SQLite reuses the highest deleted id; a stale training stream once showed another
user's training that way.) Runs on SQLite and, with DIGITLAB_TEST_DATABASE=postgres, on PostgreSQL."""

from sqlalchemy import text
from sqlmodel import SQLModel

from digitlab import all_tables  # noqa: F401  (every table on the metadata)
from digitlab.core.db import unit_of_work
from digitlab.jobs.tables import Job
from digitlab.training.tables import Training


def test_a_deleted_projects_id_is_never_given_again(client, alice, bob, make_project):
    first = make_project(alice, "first")
    newest = make_project(alice, "newest")  # the highest id: the one plain SQLite would hand out again
    assert client.delete(f"/api/projects/{newest['id']}", headers=alice.headers).status_code == 204
    bobs = make_project(bob, "bob's")
    assert bobs["id"] > newest["id"] > first["id"]
    # The old id stays gone: for Alice, and for Bob.
    assert client.get(f"/api/projects/{newest['id']}", headers=alice.headers).status_code == 404
    assert client.get(f"/api/projects/{newest['id']}", headers=bob.headers).status_code == 404


def _training(session, project_id: int, owner_id: int) -> Training:
    job = Job(project_id=project_id, owner_id=owner_id, kind="training", params={})
    session.add(job)
    session.flush()
    training = Training(project_id=project_id, owner_id=owner_id, job_id=job.id, architecture="mlp",
                        activation="relu", layers=[], summary={}, settings={}, labels=list("0123456789"))
    session.add(training)
    session.flush()
    return training


def test_a_deleted_trainings_id_is_never_given_again(client, alice, bob, make_project):
    """Alice's training (the newest) goes with her project; Bob's next training gets a new id, so a socket
    still watching Alice's id can never stream Bob's."""
    engine = client.app.state.engine
    alices, bobs = make_project(alice, "alice's"), make_project(bob, "bob's")
    me = lambda user: client.get("/api/auth/me", headers=user.headers).json()["id"]  # noqa: E731
    with unit_of_work(engine) as session:
        old = _training(session, alices["id"], me(alice))
        old_ids = (old.id, old.job_id)
    assert client.delete(f"/api/projects/{alices['id']}", headers=alice.headers).status_code == 204
    with unit_of_work(engine) as session:
        assert session.get(Training, old_ids[0]) is None  # really gone with the project
        new = _training(session, bobs["id"], me(bob))
        assert new.id > old_ids[0] and new.job_id > old_ids[1]
    gone = client.get(f"/api/projects/{bobs['id']}/trainings/{old_ids[0]}", headers=bob.headers)
    assert gone.status_code == 404


def test_every_table_takes_its_ids_from_a_sequence_that_never_goes_back(client):
    """On SQLite every table is AUTOINCREMENT (so a table added later cannot forget it); PostgreSQL's serial
    columns use sequences, which never reuse a value."""
    engine = client.app.state.engine
    # Tables keyed by a name (e.g. server_secrets) have no ids to reuse.
    with_ids = [table for table in SQLModel.metadata.tables.values() if "id" in table.columns]
    tables = {table.name for table in with_ids}
    assert {"users", "projects", "classes", "class_members"} <= tables
    for table in with_ids:
        assert table.dialect_kwargs.get("sqlite_autoincrement") is True, f"{table.name}: add NO_ID_REUSE"
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = dict(connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
            for name in tables:
                assert "AUTOINCREMENT" in rows[name], f"{name} is not AUTOINCREMENT in the database"
        else:
            for name in tables:
                sequence = connection.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": name}).scalar()
                assert sequence, f"{name}.id has no sequence"
