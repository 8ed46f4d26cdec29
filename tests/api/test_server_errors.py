"""A bug of ours (an unexpected exception) still answers in the one error shape, without internals, and tells
the client that the connection is closed (uvicorn closes it after a 500)."""

from pathlib import Path

from fastapi.testclient import TestClient

from digitlab.main import create_app
from tests.conftest import make_settings


def test_an_unexpected_error_is_a_500_in_the_error_shape_with_connection_close(tmp_path: Path, caplog) -> None:
    app = create_app(make_settings(tmp_path / "data"), run_jobs=False)

    @app.get("/api/broken-for-this-test")
    def broken() -> None:
        raise RuntimeError("secret internals: /var/lib/digitlab/db.sqlite3")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/broken-for-this-test")
    assert response.status_code == 500
    assert response.json() == {"detail": "Something went wrong on the server. Please try again in a moment.",
                                "code": "internal_error"}
    assert response.headers["connection"] == "close"
    assert "secret internals" in caplog.text  # the trace is in the log, not in the answer
