"""Settings from the environment (prefix DIGITLAB_) with an embedded default that needs no other server."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIGITLAB_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    # Empty means SQLite in data_dir; e.g. postgresql+psycopg://user@host/db for the scaled-out mode.
    database_url: str = ""

    max_upload_bytes: int = 40 * 1024 * 1024
    max_page_pixels: int = 60_000_000
    max_pdf_pages: int = 50
    max_files_per_upload: int = 50
    pdf_render_dpi: int = 300
    max_import_bytes: int = 200 * 1024 * 1024
    max_import_samples: int = 200_000

    # The web app's folder (default: frontend/ of this checkout); the API also runs without it.
    frontend_dir: Path | None = None
    # Origins allowed to call the API from a browser when the frontend is served elsewhere (scaled out).
    cors_origins: list[str] = []

    job_backend: str = "local"
    job_concurrency: int = Field(default=2, ge=1)
    # How often the local runner looks for queued jobs that another process enqueued.
    job_poll_seconds: float = 1.0
    # A running job's worker writes a heartbeat this often; a job silent for job_stale_seconds has lost
    # its worker (killed, machine gone) and is marked failed.
    # Keep one spare worker process with the job code (TensorFlow included) already imported.
    job_prewarm: bool = True
    # Job processes run this much nicer than the API, so students' clicks get the CPU before a training
    # does (a busy class on a small server); 0 = same priority.
    job_nice: int = Field(default=10, ge=0, le=19)
    job_heartbeat_seconds: float = 5.0
    job_stale_seconds: float = 60.0

    # job_backend "celery": jobs go through this broker to `digitlab worker` processes (any number of hosts
    # sharing the database and the files); the queue name lets several instances share one broker.
    celery_broker_url: str = "redis://127.0.0.1:6379/0"
    celery_queue: str = "digitlab"

    # Custom networks above this many parameters are refused before anything runs.
    max_network_params: int = 2_000_000
    # TensorFlow threads per training (0 = all cores of the machine).
    training_threads: int = 0

    session_token_hours: int = 24 * 7
    password_min_length: int = 8

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'digitlab.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


@lru_cache
def get_settings() -> Settings:
    return Settings()
