"""Requests that need a scarce resource wait for their turn here, on the event loop, before they take a worker
thread: `dependencies=[PASSWORD_TURN]` on a route that hashes or checks a password, `[DECODE_TURN]` on one that
decodes uploaded pages.

Password work runs on all cores but one and page decoding in a few slots (core.security, scans.service). A request
that waited for them inside its endpoint held one of the worker threads that every request needs: in a lesson's
first minute thirty joins and sixty uploads held them all, and a student's click waited for a free thread. A
request waiting for a turn holds no thread and no database connection. The locks inside stay, as the guard for
every other caller (the CLI, the jobs); a turn is one more than their places, so the next request's database work
overlaps the current one's hashing or decoding."""

from collections.abc import AsyncIterator

from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from fastapi import Depends, Request

from digitlab.core import security
from digitlab.core.config import Settings

# One set of turns per event loop (a test client runs its own loop).
_password_turns: RunVar[CapacityLimiter] = RunVar("password_turns")
_decode_turns: RunVar[CapacityLimiter] = RunVar("decode_turns")


def _turns(var: RunVar[CapacityLimiter], places: int) -> CapacityLimiter:
    try:
        return var.get()
    except LookupError:
        turns = CapacityLimiter(places + 1)
        var.set(turns)
        return turns


def password_turns() -> CapacityLimiter:
    """The event loop's password turns (called on that loop)."""
    return _turns(_password_turns, security.PASSWORD_WORKERS)


async def password_turn() -> AsyncIterator[None]:
    async with password_turns():
        yield


def decode_turns(settings: Settings) -> CapacityLimiter:
    """The event loop's decode turns (called on that loop)."""
    return _turns(_decode_turns, settings.upload_decode_slots)


async def decode_turn(request: Request) -> AsyncIterator[None]:
    async with decode_turns(request.app.state.settings):
        yield


# scope="function": the turn ends when the endpoint returns, not after the answer has been sent.
PASSWORD_TURN = Depends(password_turn, scope="function")
DECODE_TURN = Depends(decode_turn, scope="function")
