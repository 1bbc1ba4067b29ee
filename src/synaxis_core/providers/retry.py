"""The one retry policy for upstream calls (tenacity), inside a single attempt.

Retried quickly, with exponential backoff and jitter: connection failures (refused,
reset, closed before answering) and HTTP 502/503/504. Not retried here: 429 (the router
cools the deployment down for its Retry-After and fails over instead of sleeping on the
client's time), timeouts, other statuses, and anything after a stream has started.

``settings.upstream_retries`` is the number of extra tries (0 = a single try).

``call_with_retries`` makes the first try directly: tenacity's machinery costs about
30 µs a call on this machine (measured), paid on every request if it wrapped the first
try too; it takes over only once a try has failed in a retryable way, waiting exactly as
the policy says before each further try. Tests
make the wait zero with ``retrying(settings, wait=tenacity.wait_none())`` or by setting
``provider.retry_wait``.
"""

from __future__ import annotations

import logging
import asyncio
import copy
from typing import TYPE_CHECKING, Awaitable, Callable, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from synaxis_core.providers.upstream_errors import classify_transport_error

if TYPE_CHECKING:
    from synaxis_core.settings import Settings

log = logging.getLogger("synaxis.providers")

RETRY_STATUSES = frozenset({502, 503, 504})
DEFAULT_WAIT: wait_base = wait_exponential(multiplier=0.1, max=1.0) + wait_random(0, 0.1)
"""0.1 s, 0.2 s, 0.4 s ... (at most 1 s), each plus up to 0.1 s of jitter."""


class RetryableStatus(Exception):
    """An upstream answered 502/503/504; carries what is needed to build the error."""

    def __init__(self, status: int, headers: httpx.Headers, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body


def is_retryable(exc: BaseException) -> bool:
    """True for a 502/503/504 answer and for connection failures (not timeouts)."""
    if isinstance(exc, RetryableStatus):
        return True
    if isinstance(exc, httpx.TransportError):
        return classify_transport_error(exc) == "connect"
    return False


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.info("upstream call failed (%s), retry %d", exc, state.attempt_number)


def retrying(settings: Settings, *, wait: wait_base | None = None, tries: int | None = None) -> AsyncRetrying:
    """A fresh tenacity controller for one attempt; re-raises the last exception.

    Use as ``async for attempt in retrying(settings): with attempt: ...``. ``tries``
    (default ``upstream_retries + 1``) caps the tries it makes itself.
    """
    return AsyncRetrying(
        stop=stop_after_attempt(tries if tries is not None else max(0, settings.upstream_retries) + 1),
        wait=wait if wait is not None else DEFAULT_WAIT,
        retry=retry_if_exception(is_retryable),
        before_sleep=_log_retry,
        reraise=True,
    )


T = TypeVar("T")


class _Continued(wait_base):
    """The policy's wait for tries counted after ``done`` tries made outside tenacity,
    never past ``deadline`` (event-loop time): the try after it fails at once."""

    def __init__(self, inner: wait_base, done: int, deadline: float | None = None) -> None:
        self.inner = inner
        self.done = done
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> float:
        shifted = copy.copy(retry_state)
        shifted.attempt_number += self.done
        return _capped(self.inner(shifted), self.deadline)


def _capped(wait: float, deadline: float | None) -> float:
    if deadline is None:
        return wait
    return max(0.0, min(wait, deadline - asyncio.get_running_loop().time()))


async def call_with_retries(
    settings: Settings,
    send: Callable[[], Awaitable[T]],
    *,
    wait: wait_base | None = None,
    deadline: float | None = None,
) -> T:
    """``await send()`` under the policy: the first try direct, the retries through tenacity.

    ``deadline`` (event-loop time, or None) caps each wait between tries: a wait never
    outlasts it (``send`` itself says ``TimeoutError`` once it has passed).
    """
    try:
        return await send()
    except Exception as exc:
        if settings.upstream_retries < 1 or not is_retryable(exc):
            raise
        log.info("upstream call failed (%s), retry 1", exc)
    policy = wait if wait is not None else DEFAULT_WAIT
    first = RetryCallState(None, None, (), {})  # attempt_number 1: the try that just failed
    await asyncio.sleep(_capped(policy(first), deadline))
    return await retrying(settings, wait=_Continued(policy, 1, deadline), tries=settings.upstream_retries)(send)
