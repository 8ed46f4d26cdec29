"""Calls to a learning platform (its key set, token endpoint, grade and roster services) with httpx: bounded
in time and in the size of what is read, so a slow or hostile platform cannot hold a request or fill memory."""

import json
from typing import Any

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
# A roster of a large course (a few thousand members) still fits; nothing we read is bigger.
MAX_ROSTER_BYTES = 16 * 1024 * 1024


class PlatformUnreachable(Exception):
    """The platform did not answer, answered an error status, or answered something that is not JSON."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def request_json(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    json_body: Any = None,
    content: bytes | None = None,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> tuple[Any, httpx.Headers]:
    """The JSON a platform answers (None for an empty body) and the answer's headers."""
    try:
        with (
            httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client,
            client.stream(method, url, headers=headers, data=data, json=json_body, content=content) as response,
        ):
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise PlatformUnreachable(f"{url} answered more than {max_bytes} bytes")
            if response.status_code >= 400:
                raise PlatformUnreachable(f"{url} answered {response.status_code}", response.status_code)
            answer_headers = response.headers
    except httpx.HTTPError as exc:
        raise PlatformUnreachable(f"{url}: {type(exc).__name__}") from exc
    if not body.strip():
        return None, answer_headers
    try:
        return json.loads(body), answer_headers
    except ValueError as exc:
        raise PlatformUnreachable(f"{url} answered something that is not JSON") from exc
