"""digitlab.core.ratelimit: policies in the `limits` notation, kept in memory or in Redis (shared by replicas)."""

import secrets

import pytest
from pydantic import ValidationError

from digitlab.core.config import Settings
from digitlab.core.ratelimit import RateLimiter, parse_policy

REDIS_URL = "redis://127.0.0.1:6379/15"


def test_policies_are_parsed_and_checked_at_start():
    assert [str(item) for item in parse_policy("5/minute;6/2 minutes")] == ["5 per 1 minute", "6 per 2 minute"]
    assert parse_policy("") == ()
    Settings(login_account_limits="3/second", login_ip_limits="", register_ip_limits="1/day")
    with pytest.raises(ValidationError):
        Settings(login_ip_limits="many per minute")


def test_storage_is_memory_alone_and_the_brokers_redis_when_scaled_out():
    assert Settings().resolved_rate_limit_storage_url == "memory://"
    scaled = Settings(job_backend="celery", celery_broker_url="redis://:pw@redis:6379/0")
    assert scaled.resolved_rate_limit_storage_url == "redis://:pw@redis:6379/0"
    own = Settings(job_backend="celery", rate_limit_storage_url="redis://limits:6379/3")
    assert own.resolved_rate_limit_storage_url == "redis://limits:6379/3"


def test_a_full_window_says_how_long_to_wait_and_counts_nothing_more():
    limiter = RateLimiter()
    assert [limiter.hit("2/minute", "login", "mia") for _ in range(2)] == [None, None]
    wait = limiter.hit("2/minute", "login", "mia")
    assert wait is not None and 1 <= wait <= 61
    assert limiter.wait_seconds("2/minute", "login", "mia") == wait
    assert limiter.hit("2/minute", "login", "ben") is None  # another key counts on its own
    limiter.clear("2/minute", "login", "mia")
    assert limiter.hit("2/minute", "login", "mia") is None
    assert all(limiter.hit("", "login", "mia") is None for _ in range(100))  # no policy, no limit


def test_replicas_sharing_redis_count_together():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    first, second = RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)
    who = secrets.token_hex(8)
    try:
        assert first.hit("3/minute", "login", who) is None
        assert second.hit("3/minute", "login", who) is None
        assert first.hit("3/minute", "login", who) is None
        assert second.hit("3/minute", "login", who) is not None  # the fourth, whichever replica sees it
    finally:
        first.clear("3/minute", "login", who)


def test_an_unreachable_redis_lets_logins_through(caplog):
    limiter = RateLimiter("redis://127.0.0.1:1/0")  # nothing listens there
    assert limiter.hit("1/minute", "login", "mia") is None
    assert limiter.hit("1/minute", "login", "mia") is None
    assert "rate limit storage unavailable" in caplog.text
