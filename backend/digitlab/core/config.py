"""Settings from the environment (prefix DIGITLAB_) with an embedded default that needs no other server."""

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIGITLAB_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    # Empty means SQLite in data_dir; e.g. postgresql+psycopg://user@host/db for the scaled-out mode.
    database_url: str = ""
    # `digitlab serve` applies the database migrations at start (the embedded default needs nothing else).
    # The scaled-out deployment runs `digitlab migrate` once instead and starts its api replicas with false.
    migrate_on_start: bool = True

    # Request bodies: JSON and every other non-upload body is refused (413) beyond max_body_bytes while it
    # streams in; the upload routes have their own caps (digitlab.api.limits).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Scan uploads: per file, per request (bytes, files, pages and pixels of all files together) and per page.
    # Files stream to disk and are decoded one page at a time, so memory stays ~ one page whatever is sent.
    max_upload_bytes: int = 40 * 1024 * 1024
    max_upload_request_bytes: int = 100 * 1024 * 1024
    max_files_per_upload: int = 50
    max_upload_pages: int = 100
    max_upload_pixels: int = 1_000_000_000
    max_page_pixels: int = 60_000_000
    min_page_side: int = 32  # pixels; a smaller page cannot hold a sheet (a 1x1 "scan", a 0.1 pt PDF page)
    max_pdf_pages: int = 50
    pdf_render_dpi: int = 300
    # Pages decoded at the same time by all uploads together (each holds at most one page of max_page_pixels).
    # Two, and never every core: with a class's sixty uploads decoding on both cores of a small server, the
    # lesson's other clicks waited (class of 30 with Celery: ordinary p95 206-240 ms with two slots on 2 cores,
    # 130-160 ms with one).
    upload_decode_slots: int = Field(default_factory=lambda: max(1, min(2, (os.cpu_count() or 2) - 1)), ge=1)
    # Dataset imports: the file, what its zip entries unpack to (checked from the zip's directory before any
    # entry is read), how many entries it may list, and the size of one image entry of a zip of PNGs.
    max_import_bytes: int = 200 * 1024 * 1024
    max_import_unpacked_bytes: int = 400 * 1024 * 1024
    max_import_entries: int = 210_000
    max_import_entry_bytes: int = 16 * 1024 * 1024
    max_import_samples: int = 200_000

    # Storage: what one user's projects may hold (files and samples; 0 = no limit), checked before anything
    # is stored (413 quota_exceeded). Uploads are refused (507) while the data folder's disk has less than
    # min_free_disk_bytes free. disk_reserve_bytes are kept in a file in the data folder and given up when the
    # disk is full, so that deletions keep working (0 = no reserve). SQLite needs free space to commit a deletion
    # of about the size of the rows it removes (a project of 60,000 imported samples: ~58 MB).
    user_quota_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)
    # What all the students of one class may hold together (0 = no limit): one student cannot fill the disk
    # for the class, and one class not for the school. Checked for each class a student is in.
    class_quota_bytes: int = Field(default=16 * 1024 * 1024 * 1024, ge=0)
    min_free_disk_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    disk_reserve_bytes: int = Field(default=64 * 1024 * 1024, ge=0)

    # The web app's folder (default: frontend/ of this checkout); the API also runs without it.
    frontend_dir: Path | None = None
    # Origins allowed to call the API from a browser when the frontend is served elsewhere (scaled out).
    cors_origins: list[str] = []

    job_backend: str = "local"
    job_concurrency: int = Field(default=2, ge=1)
    # How often the local runner looks for queued jobs that another process enqueued.
    job_poll_seconds: float = 1.0
    # Keep one spare worker process with the job code (TensorFlow included) already imported.
    job_prewarm: bool = True
    # Job processes run this much nicer than the API, so students' clicks get the CPU before a training
    # does (a busy class on a small server); 0 = same priority.
    job_nice: int = Field(default=10, ge=0, le=19)
    # The process supervising a job (the local runner, a Celery worker's parent) writes its heartbeat this often,
    # whatever the job's own process is doing; it ends at once the job of a process that died. A job silent for
    # job_stale_seconds lost its supervisor too (a machine gone, a whole worker killed) and is ended as failed:
    # a limit with room for a busy machine, never needed to notice a mere dead process.
    job_heartbeat_seconds: float = Field(default=5.0, gt=0)
    job_stale_seconds: float = Field(default=60.0, gt=0)
    # Extractions run in warm worker processes that never import TensorFlow and take job after job (per service
    # with the local backend, per `digitlab worker` with Celery), apart from the trainings' job_concurrency slots.
    # A warm process is replaced after extraction_max_jobs jobs or when a job left it holding more than
    # extraction_recycle_mb resident; extraction_memory_limit_mb caps it (like training_memory_limit_mb, 0 = no
    # cap). extraction_nice: how much an extraction yields the CPU (trainings yield by job_nice). Unset: 10 for the
    # service's own warm processes, which always share the API's machine (load_class, class of 30, local backend:
    # ordinary p95 105-161 ms and samples after p95 6.1-7.1 s, against 164-247 ms and 4.6-5.9 s at 0), and 0 for
    # a Celery worker, often a machine of its own (on the API's machine, 10 made a class wait 11 s for samples).
    extraction_concurrency: int = Field(default=2, ge=1)
    extraction_max_jobs: int = Field(default=200, ge=1)
    extraction_recycle_mb: int = Field(default=1024, ge=64)
    extraction_memory_limit_mb: int = Field(default=2048, ge=0)
    extraction_nice: int | None = Field(default=None, ge=0, le=19)

    # job_backend "celery": jobs go through this broker to `digitlab worker` processes (any number of hosts
    # sharing the database and the files); the queue name lets several instances share one broker.
    celery_broker_url: str = "redis://127.0.0.1:6379/0"
    celery_queue: str = "digitlab"

    # Custom networks above this many parameters are refused before anything runs.
    max_network_params: int = 2_000_000
    # Trainings whose estimated peak memory (layer outputs x batch size, parameters, dataset, TensorFlow;
    # digitlab.ml.architectures.estimate_training_memory) is above this are refused before anything runs.
    # 0 = no check. Two trainings side by side (job_concurrency 2) then fit a 24 GB machine with room to spare.
    max_training_memory_mb: int = Field(default=3072, ge=0)
    # Each training job's process is capped at this (a memory cgroup as root, else RLIMIT_DATA;
    # digitlab.jobs.limits): above the estimate's limit, so only a wrong estimate ever meets it. 0 = no cap.
    training_memory_limit_mb: int = Field(default=4096, ge=0)
    # TensorFlow threads per training (0 = all cores of the machine).
    training_threads: int = 0

    session_token_hours: int = 24 * 7
    password_min_length: int = 8
    # zxcvbn's score (0-4) a new password needs: 2 refuses "12345678", "password", the username and the like.
    password_min_score: int = Field(default=2, ge=0, le=4)

    # Classes: a class's data is deleted this many days after it was created unless its teachers choose another
    # time (up to class_retention_max_days from the day they choose it). Join codes and teacher invitations
    # expire after these many days unless chosen otherwise (up to join_code_max_days).
    class_retention_days: int = Field(default=365, ge=1)
    class_retention_max_days: int = Field(default=730, ge=1)
    join_code_days: int = Field(default=14, ge=1)
    join_code_max_days: int = Field(default=180, ge=1)
    teacher_invite_days: int = Field(default=14, ge=1)
    # The web app's address as students open it (e.g. https://digitlab.school.example/), printed on login cards and
    # in join codes' QR codes. Empty: the address the teacher's request came to (right for the embedded default
    # and a proxy that passes the Host header; set it when the web app is served from another host).
    app_url: str = ""

    # Rate limits, in the notation of the `limits` library ("N/unit" windows joined by ";", all must have room;
    # "" = no limit). Per account, every login attempt counts and a success clears them: after 5 quick failures
    # each further attempt waits about twice as long as the one before (1, 2, 4, ... 30 minutes; 429 with
    # Retry-After), at most 11 guesses an hour; never a lockout that needs an admin. Per client address (a whole
    # class behind one school NAT shares one), generously: 30 students logging in within a minute pass, a brute
    # force of hundreds is stopped.
    login_account_limits: str = "5/minute;6/2 minutes;7/4 minutes;8/8 minutes;9/16 minutes;10/32 minutes;11/hour"
    login_ip_limits: str = "100/minute;1000/hour"
    register_ip_limits: str = "60/minute;300/hour"
    # Wrong join codes per client address (right ones are not counted): a class mistyping a few passes, a search
    # through the codes (30^8 of them) gets nowhere.
    join_code_ip_limits: str = "20/minute;100/hour"
    # Where the counts live: "" = this process's memory with job_backend "local", the celery broker's Redis
    # with job_backend "celery" (so API replicas share them); or any URL `limits` knows (redis://...).
    rate_limit_storage_url: str = ""
    # Data protection (digitlab.privacy): how often the service deletes the data of classes past their delete_after
    # (and ended login tokens, and files left behind by deleted projects); how often one student's data may be
    # exported as a zip (an export reads all their files: the limit counts per student, whoever asks).
    retention_sweep_seconds: float = Field(default=600.0, gt=0)
    export_limits: str = "5/10 minutes;20/day"

    @field_validator(
        "login_account_limits", "login_ip_limits", "register_ip_limits", "join_code_ip_limits", "export_limits"
    )
    @classmethod
    def _valid_rate_limits(cls, value: str) -> str:
        from digitlab.core.ratelimit import parse_policy

        parse_policy(value)  # raises ValueError on a malformed policy, at start rather than at the first login
        return value

    @property
    def resolved_rate_limit_storage_url(self) -> str:
        if self.rate_limit_storage_url:
            return self.rate_limit_storage_url
        if self.job_backend == "celery" and self.celery_broker_url.startswith(("redis://", "rediss://")):
            return self.celery_broker_url
        return "memory://"

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
