"""The same service on PostgreSQL (the scaled-out mode): migrations, and one trip from upload to dataset."""

import threading

import pytest
from fastapi.testclient import TestClient

from digitlab.core.config import Settings
from digitlab.main import create_app
from tests.api import scanpages
from tests.api.datafiles import mnist_npz, upload_npz
from tests.api.helpers import all_cells, new_project, new_user, start_extraction, upload_files
from tests.conftest import PASSWORD, create_postgres_database, drop_postgres_database, wait_for_job

@pytest.fixture
def postgres_url():
    name, url = create_postgres_database()
    yield url
    drop_postgres_database(name)


@pytest.mark.postgres
@pytest.mark.slow
def test_upload_extract_and_dataset_on_postgresql(tmp_path, postgres_url):
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url, job_poll_seconds=0.2)
    with TestClient(create_app(settings)) as client:
        assert client.app.state.engine.dialect.name == "postgresql"
        user = new_user(client, "pia")
        labels = ["ä", "€", "b", "c", "d", "e", "f", "g", "h", "i"]
        project = new_project(client, user, "auf Postgres", labels)
        written = scanpages.default_cells(seed=50)
        [scan] = upload_files(client, user, project["id"],
                              ("sheet.png", scanpages.png(scanpages.grid_page(written, seed=50))))
        job = wait_for_job(client, user, start_extraction(client, user, project["id"])["id"])
        assert job["status"] == "succeeded", job
        kept = job["result"]["kept"]
        assert kept >= 0.9 * len(written)
        assert upload_npz(client, user, project["id"], mnist_npz([0, 1, 1])).status_code == 201

        summary = client.get(f"/api/projects/{project['id']}/dataset", headers=user.headers).json()
        assert summary["total"] == kept + 3
        cells = all_cells(client, user, project["id"], which="included")
        for entry in summary["labels"]:
            assert entry["included"] == sum(c["label"] == entry["label"] for c in cells)
        for cell in cells:
            if cell["scan_id"] == scan["id"]:
                assert cell["label"] == labels[cell["row"] // 3]
        assert client.get(f"/api/projects/{project['id']}", headers=user.headers).json()["labels"] == labels
        relabel = client.patch(f"/api/projects/{project['id']}/dataset/cells/{cells[0]['id']}",
                               json={"label": "€"}, headers=user.headers)
        assert relabel.status_code == 200
        assert client.get(f"/api/projects/{project['id']}/dataset/export", headers=user.headers).status_code == 200
        assert client.delete(f"/api/projects/{project['id']}", headers=user.headers).status_code == 204

    # A second start on the same database finds the schema up to date and the account still there.
    with TestClient(create_app(settings)) as client:
        login = client.post("/api/auth/login", json={"username": "pia", "password": PASSWORD})
        assert login.status_code == 200


@pytest.mark.postgres
def test_overlapping_extractions_of_one_page_do_not_double_its_cells(tmp_path, postgres_url):
    """Two jobs store the same page at the same moment (a double-clicked "Extract", or a re-extraction
    started while the first still runs): the page must end with one set of 600 cells, not two."""
    from sqlalchemy.exc import DBAPIError
    from sqlmodel import Session

    from digitlab.extraction.service import store_page_result
    from digitlab.pipeline import extract_page
    from digitlab.scans.tables import Scan

    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url, job_poll_seconds=0.2)
    gray = scanpages.grid_page(seed=51)
    with TestClient(create_app(settings, run_jobs=False)) as client:
        user = new_user(client, "olaf")
        project = new_project(client, user)
        [scan] = upload_files(client, user, project["id"], ("sheet.png", scanpages.png(gray)))
        extraction = extract_page(gray, project["labels"])
        engine = client.app.state.engine

        def second_job() -> None:
            with Session(engine, expire_on_commit=False) as session:
                store_page_result(session, session.get(Scan, scan["id"]), extraction)
                session.commit()

        with Session(engine, expire_on_commit=False) as first:
            store_page_result(first, first.get(Scan, scan["id"]), extraction)  # not committed yet
            other = threading.Thread(target=second_job)
            other.start()
            other.join(timeout=1.0)  # it may finish, or wait for us (a lock): both are fine
            try:
                first.commit()
            except DBAPIError:  # refused by a constraint: one set of cells survives, also fine
                first.rollback()
            other.join(timeout=30)
            assert not other.is_alive()
        cells = [c for c in all_cells(client, user, project["id"]) if c["scan_id"] == scan["id"]]
        assert len(cells) == 600, f"{len(cells)} cells for one page"


@pytest.mark.postgres
def test_ids_beyond_postgresql_integers_are_not_found(tmp_path, postgres_url):
    """PostgreSQL's integer ids end at 2**31 - 1: a larger id is "not found", not a server error."""
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_url)
    with TestClient(create_app(settings, run_jobs=False)) as client:
        user = new_user(client, "quinn")
        project = new_project(client, user)
        for url in ("/api/projects/2147483648", "/api/jobs/2147483648",
                    f"/api/projects/{project['id']}/scans/2147483648",
                    f"/api/projects/{project['id']}/dataset/cells/2147483648/image.png"):
            try:
                response = client.get(url, headers=user.headers)
            except Exception as exc:  # noqa: BLE001 - the TestClient re-raises server errors
                pytest.fail(f"GET {url}: server error {exc!r}")
            assert response.status_code in (404, 422), url
