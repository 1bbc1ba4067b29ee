"""Wait for something to become true, without betting on how long it takes.

    from synaxis_core.testing.waiting import wait_until

    rows = await wait_until(lambda: ledger_rows(h), what="the cancelled stream's ledger row")
    await wait_until(lambda: fake.calls["openai/gpt-oss-120b"] == 1, what="the upstream got the request")

A test that sleeps "long enough" and then asserts is slow when the machine is idle and
wrong when it is loaded; a test that asserts ``elapsed < X`` fails on a busy CI runner.
`wait_until` polls instead: it checks the predicate, gives the event loop a turn
(``asyncio.sleep(0)``, so the tasks the test waits for can run), checks again, and after
the first few turns backs off to short sleeps (at most ``max_interval`` seconds), so a
condition that depends on another thread or process is not polled in a busy loop.

The ``timeout`` is a safety cap, not a timing assertion: it only turns a condition that
never comes true into a clear failure instead of a hung test, so keep it generous. To
check that something did *not* happen, do not wait for nothing: wait for an event that
proves it had its chance (the upstream received the request, a later request was served)
and then assert.

`wait_until_sync` is the same for plain (non-async) code: a thread or a process to watch
from a synchronous test or fixture.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["DEFAULT_TIMEOUT_S", "wait_until", "wait_until_sync"]

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
"""The safety cap of a wait: generous, so that only a condition that never comes true hits it."""

_EAGER_TURNS = 20
"""Checks made with a bare ``asyncio.sleep(0)`` between them before backing off."""
_FIRST_SLEEP_S = 0.001
_MAX_INTERVAL_S = 0.05


def _describe(predicate: Callable[..., Any], what: str | None) -> str:
    if what:
        return what
    name = getattr(predicate, "__qualname__", None) or repr(predicate)
    return f"{name}() to be true"


def _failure(description: str, timeout: float, last: Any) -> AssertionError:
    return AssertionError(
        f"gave up waiting for {description} after {timeout:g} s (a safety cap, not a timing "
        f"assertion: the condition never came true); last value: {last!r}"
    )


async def wait_until(
    predicate: Callable[[], T | Awaitable[T]],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    what: str | None = None,
    max_interval: float = _MAX_INTERVAL_S,
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that value.

    ``predicate`` is a plain callable or a coroutine function (or a callable returning an
    awaitable, e.g. ``lambda: client.get(...)``); it is called at once, then after each
    turn of the event loop, then every few milliseconds up to ``max_interval``.
    Exceptions it raises propagate (an assertion inside it fails the test at once).

    :param timeout: safety cap in seconds; past it, ``AssertionError`` naming ``what``.
    :param what: what is awaited, for the failure message ("the ledger row of request 3").
    """
    description = _describe(predicate, what)
    deadline = time.monotonic() + timeout
    turns = 0
    pause = _FIRST_SLEEP_S
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise _failure(description, timeout, value)
        if turns < _EAGER_TURNS:
            turns += 1
            await asyncio.sleep(0)
        else:
            await asyncio.sleep(pause)
            pause = min(pause * 2, max_interval)


def wait_until_sync(
    predicate: Callable[[], T],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    what: str | None = None,
    max_interval: float = _MAX_INTERVAL_S,
) -> T:
    """`wait_until` for synchronous code: poll ``predicate`` (a plain callable) with short,
    growing ``time.sleep`` pauses until it returns something truthy; return that value.

    It blocks the calling thread: do not call it from a coroutine that the awaited
    condition depends on (use `wait_until` there).
    """
    description = _describe(predicate, what)
    deadline = time.monotonic() + timeout
    pause = _FIRST_SLEEP_S / 10
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _failure(description, timeout, value)
        time.sleep(pause)
        pause = min(pause * 2, max_interval)
