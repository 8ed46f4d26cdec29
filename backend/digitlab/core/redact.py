"""Keep secrets in URLs out of the logs.

Clients should send tokens in headers, but a URL may still carry one (`?token=` from an older WebSocket
client, a link someone pasted). An access log line shows the raw query string, so the check must look at
the decoded parameter names: `?%74oken=...` is `token` to the server as well. The values of such parameters
become `***`; everything else in the line stays as it was.
"""

import logging
import re
from urllib.parse import unquote_plus

# A parameter whose decoded name contains one of these holds a secret.
SENSITIVE_NAMES = ("token", "password", "secret", "code", "key")
MASK = "***"

_QUERY = re.compile(r"\?([^\s\"']*)")
_SEPARATORS = re.compile(r"([&;])")


def _decoded(text: str) -> str:
    for _ in range(3):  # %2574oken -> %74oken -> token
        decoded = unquote_plus(text)
        if decoded == text:
            break
        text = decoded
    return text.lower()


def _redact_query(query: str) -> str:
    parts = []
    for part in _SEPARATORS.split(query):
        decoded = _decoded(part)
        if part not in ("&", ";") and any(word in decoded for word in SENSITIVE_NAMES):
            name = re.sub(r"[^a-z0-9_.-]", "", decoded.split("=", 1)[0])[:40]
            part = f"{name}={MASK}"
        parts.append(part)
    return "".join(parts)


def redact(text: str) -> str:
    """`text` with the values of sensitive query parameters of every URL in it masked."""
    if "?" not in text:
        return text
    return _QUERY.sub(lambda match: "?" + _redact_query(match.group(1)), text)


class RedactSecrets(logging.Filter):
    """A logging filter that masks secrets in a record's message and arguments, keeping their number and
    types (uvicorn's access formatter unpacks exactly five arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: redact(arg) if isinstance(arg, str) else arg for key, arg in record.args.items()}
        return True
