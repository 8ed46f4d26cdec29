"""Why a job ended without finishing its work (the reasons themselves are in digitlab.jobs.states)."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reason:
    """Why a job ended without finishing its work: a machine `code` (the web app shows its own `error.<code>`
    text, in the student's language), the English `sentence` (jobs.error, for API clients and the log) and the
    numbers in that sentence by name (`params`, e.g. a memory limit in MB). Stored by `transition`."""

    code: str
    sentence: str
    params: dict[str, Any] | None = None

    def columns(self) -> dict[str, Any]:
        return {"error": self.sentence, "error_code": self.code, "error_params": self.params or None}
