"""Heartbeats of running jobs, written by the process that supervises the job's process, never by the job's own.

A job's process can be slow without being lost: CPU-starved on a busy machine (and niced below the API),
holding the GIL for seconds while TensorFlow is imported, even stopped by the operating system. A heartbeat
thread inside that process starves with it, and a job that is merely slow would be declared lost. Its
supervisor (the local runner in the service process; the Celery worker's parent process) does little else,
so its beat comes on time whatever the job does; and it sees a job's process die, so that job ends at once
instead of after the stale limit (job_stale_seconds, which is only the last resort for a supervisor that is
itself gone: a machine lost, a whole worker killed).
"""

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Heartbeat:
    """Calls `tick` every `interval` seconds in a daemon thread until stopped; a failing tick is logged and
    tried again next time.

    `guard_forks`: for a supervisor that forks its job processes while this thread runs (Celery's prefork
    pool). A fork then waits for a tick in progress, so a child never inherits a lock or a connection that
    the thread held half-way; the thread holds nothing between ticks. Register it once per process."""

    def __init__(self, interval: float, tick: Callable[[], None], name: str, guard_forks: bool = False):
        self.interval = interval
        self.tick = tick
        self.name = name
        self._stop = threading.Event()
        self._ticking = threading.Lock()
        self._thread: threading.Thread | None = None
        if guard_forks:
            os.register_at_fork(
                before=self._ticking.acquire,
                after_in_parent=self._ticking.release,
                after_in_child=self._ticking.release,
            )

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._ticking:
                    self.tick()
            except Exception:
                log.warning("%s: this beat failed", self.name, exc_info=True)
            self._stop.wait(self.interval)
