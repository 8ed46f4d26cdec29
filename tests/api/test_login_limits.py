"""Logins slow down per account (growing waits, never a lockout), are capped generously per network address,
and registrations are limited per address: with the default settings, as a school would run them.

The limits' clock is moved by the `clock` fixture instead of sleeping (limits' in-memory storage and
digitlab.core.ratelimit both read time.time()).
"""

import itertools
import time
import types

import limits.storage.memory
import pytest

import digitlab.core.ratelimit
from tests.conftest import PASSWORD


def register(client, username, password=PASSWORD):
    return client.post("/api/auth/register", json={"username": username, "password": password})


def login(client, username, password=PASSWORD):
    return client.post("/api/auth/login", json={"username": username, "password": password})


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    fake_time = types.SimpleNamespace(time=fake.time)
    monkeypatch.setattr(limits.storage.memory, "time", fake_time)
    monkeypatch.setattr(digitlab.core.ratelimit, "time", fake_time)
    return fake


def retry_after(response) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "too_many_attempts" and response.json()["detail"]
    seconds = int(response.headers["Retry-After"])
    assert seconds >= 1
    return seconds


def test_a_class_behind_one_school_address_all_log_in(client):
    """30 students register and log in within a minute from one NAT address; a few mistype first."""
    names = [f"student{i:02d}" for i in range(30)]
    for name in names:
        assert register(client, name).status_code == 201, name
    for name in names[:6]:
        assert login(client, name, "typo " + PASSWORD).status_code == 401
    for name in names:
        response = login(client, name)
        assert response.status_code == 200, (name, response.text)
        assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
                          ).json()["username"] == name


def test_a_brute_force_does_not_get_the_right_password_accepted(client):
    """The attack that worked before: 650 wrong passwords in a row, then the right one."""
    assert register(client, "victim").status_code == 201
    started = time.monotonic()
    statuses = [login(client, "victim", f"guess number {i}").status_code for i in range(650)]
    assert statuses[:5] == [401] * 5  # five honest mistakes are just wrong passwords
    assert set(statuses[5:]) == {429}  # then every attempt is refused before the password is even checked
    response = login(client, "victim")
    assert retry_after(response) > 0  # the right password is not accepted at once
    assert "access_token" not in response.text
    assert time.monotonic() - started < 60  # refusals are cheap: no password hashing for them


def test_wrong_passwords_make_the_account_wait_longer_and_longer(client, clock):
    """Five quick mistakes, then each further guess waits about twice as long as the one before."""
    assert register(client, "mia").status_code == 201
    failures, waits = [], []
    for _ in range(7):
        failed = 0
        while (response := login(client, "mia", "not the password")).status_code == 401:
            failed += 1
            clock.advance(1)  # a guess a second
        failures.append(failed)
        waits.append(retry_after(response))
        assert retry_after(login(client, "mia")) == waits[-1]  # the right password waits just the same
        clock.advance(waits[-1])
    assert failures == [5, 1, 1, 1, 1, 1, 1], failures
    assert waits[0] <= 61, waits
    assert all(later > earlier * 1.5 for earlier, later in itertools.pairwise(waits[1:])), waits
    assert 25 * 60 < waits[-1] <= 3600, waits  # 11 guesses in the first hour, then it waits most of the hour
    # The wait is over: the right password works at once, and the slate is clean again.
    assert login(client, "mia").status_code == 200
    assert [login(client, "mia", "oops").status_code for _ in range(6)] == [401] * 5 + [429]


def test_a_success_resets_the_count(client, clock):
    assert register(client, "mia").status_code == 201
    for _ in range(3):
        assert [login(client, "mia", "wrong").status_code for _ in range(4)] == [401] * 4
        assert login(client, "mia").status_code == 200  # 12 failures in all, never a wait


def test_the_slowdown_is_per_account(client, clock):
    assert register(client, "mia").status_code == 201
    assert register(client, "ben").status_code == 201
    for _ in range(5):
        login(client, "mia", "wrong")
    assert retry_after(login(client, "MIA")) > 0  # any spelling of the name: one account
    assert login(client, "ben").status_code == 200  # a classmate behind the same address is not affected


def test_unknown_usernames_are_throttled_alike(client, clock):
    """The answers never tell which accounts exist."""
    assert register(client, "mia").status_code == 201
    known = [login(client, "mia", "wrong") for _ in range(6)]
    unknown = [login(client, "nobody", "wrong") for _ in range(6)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 5 + [429]
    assert [r.json() for r in known] == [r.json() for r in unknown]
    assert known[-1].headers["Retry-After"] == unknown[-1].headers["Retry-After"]


def test_hundreds_of_logins_from_one_address_are_stopped(client, clock):
    """Password spraying: one guess each for many accounts, from one address."""
    statuses = [login(client, f"user{i}", "Sommer2024!").status_code for i in range(130)]
    assert statuses[:100] == [401] * 100
    assert set(statuses[100:]) == {429}
    assert register(client, "mia").status_code == 201
    assert retry_after(login(client, "mia")) <= 61  # the address waits, whatever the account
    clock.advance(61)
    assert login(client, "mia").status_code == 200


def test_registrations_are_limited_per_address(client, clock):
    statuses = [register(client, f"new{i:02d}").status_code for i in range(65)]
    assert statuses[:60] == [201] * 60  # two classes registering at once
    assert set(statuses[60:]) == {429}
    assert retry_after(register(client, "late")) <= 61
    clock.advance(61)
    assert register(client, "late").status_code == 201
    assert login(client, "late").status_code == 200


def test_guessing_through_the_password_change_is_throttled_too(client, clock, alice):
    def change(current):
        return client.post("/api/auth/password", headers=alice.headers,
                           json={"current_password": current, "new_password": "a brand new secret phrase"})

    assert [change(f"guess {i}").status_code for i in range(5)] == [422] * 5
    assert retry_after(change(PASSWORD)) > 0
    assert retry_after(login(client, "alice")) > 0  # one count per account, whatever the door
    clock.advance(61)
    assert change(PASSWORD).status_code == 204
