"""Rate limits on top of the `limits` library: moving windows kept in memory (one API process, the embedded
default) or in Redis (several API replicas, the scaled-out deployment), so that every replica counts alike.

A policy is a string in limits' notation, e.g. "5/minute;10/10 minutes;20/hour": several windows at once, and
an attempt is allowed only while every one of them has room. Callers name what they count ("login-ip") and
whom ("203.0.113.7"); nothing else about the storage leaks out of this module.
"""

import logging
import math
import time
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)


@lru_cache(maxsize=64)
def parse_policy(policy: str) -> tuple[RateLimitItem, ...]:
    """ "5/minute;20/hour" -> its windows; "" -> none (no limit). Raises ValueError when malformed."""
    return tuple(parse_many(policy)) if policy.strip() else ()


class RateLimiter:
    def __init__(self, storage_url: str = "memory://") -> None:
        # wrap_exceptions: a storage failure (Redis gone) surfaces as limits' StorageError, handled below.
        self._storage = storage_from_string(storage_url, wrap_exceptions=True)
        self._windows = MovingWindowRateLimiter(self._storage)

    def hit(self, policy: str, *key: str) -> int | None:
        """Count one attempt of `key` against every window of `policy`.

        Returns None when it is allowed, or the seconds to wait (nothing counted) when a window is full.
        Fails open: if the storage is unreachable the attempt is allowed and the failure logged, so an outage
        of Redis does not lock a school out of its logins.
        """
        items = parse_policy(policy)
        try:
            if wait := self._wait(items, key):
                return wait
            for item in items:
                if not self._windows.hit(item, *key):  # another request took the last room meanwhile
                    return self._wait(items, key) or 1
        except StorageError:
            log.warning("rate limit storage unavailable; allowing %s", key[:1], exc_info=True)
        return None

    def wait_seconds(self, policy: str, *key: str) -> int | None:
        """Seconds until `key` may try again under `policy`, or None if it may now (counts nothing)."""
        try:
            return self._wait(parse_policy(policy), key)
        except StorageError:
            log.warning("rate limit storage unavailable; allowing %s", key[:1], exc_info=True)
            return None

    def clear(self, policy: str, *key: str) -> None:
        """Forget every attempt of `key` under `policy` (e.g. after a successful login)."""
        try:
            for item in parse_policy(policy):
                self._windows.clear(item, *key)
        except StorageError:
            log.warning("rate limit storage unavailable; could not reset %s", key[:1], exc_info=True)

    def _wait(self, items: tuple[RateLimitItem, ...], key: tuple[str, ...]) -> int | None:
        now = time.time()
        waits = [
            self._windows.get_window_stats(item, *key).reset_time - now
            for item in items
            if not self._windows.test(item, *key)
        ]
        # Whole seconds, rounded up past the boundary: trying again after Retry-After seconds always works.
        return max(1, math.floor(max(waits)) + 1) if waits else None
