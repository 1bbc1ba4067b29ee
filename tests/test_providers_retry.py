"""The one retry policy: what is retried, how often, and with zero wait in tests."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tenacity import wait_none

from synaxis_core.errors import (
    RateLimited,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamTimeout,
)
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.providers.retry import (
    DEFAULT_WAIT,
    RetryableStatus,
    is_retryable,
    retrying,
)
from synaxis_core.settings import Settings

MESSAGE = {"role": "assistant", "content": "hi"}
OK = {"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": MESSAGE, "finish_reason": "stop"}]}
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def settings(retries: int = 2) -> Settings:
    return Settings.from_env({"SYNAXIS_UPSTREAM_RETRIES": str(retries)})


async def test_retrying_retries_then_succeeds():
    calls = 0
    async for attempt in retrying(settings(2), wait=wait_none()):
        with attempt:
            calls += 1
            if calls < 3:
                raise RetryableStatus(503, httpx.Headers(), b"")
    assert calls == 3


@pytest.mark.parametrize("retries", [0, 1, 3])
async def test_retrying_stops_after_upstream_retries(retries):
    calls = 0
    with pytest.raises(RetryableStatus):
        async for attempt in retrying(settings(retries), wait=wait_none()):
            with attempt:
                calls += 1
                raise RetryableStatus(502, httpx.Headers(), b"")
    assert calls == retries + 1


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (RetryableStatus(504, httpx.Headers(), b""), True),
        (httpx.ConnectError("refused"), True),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), True),
        (httpx.ReadTimeout("slow"), False),
        (httpx.ConnectTimeout("slow"), False),
        (UpstreamError("x"), False),
        (ValueError("x"), False),
    ],
)
def test_is_retryable(exc, expected):
    assert is_retryable(exc) is expected


def test_default_wait_is_short_and_bounded():
    class State:
        attempt_number = 1

    for attempt in range(1, 12):
        State.attempt_number = attempt
        assert 0.1 <= DEFAULT_WAIT(State) <= 1.1


class Script:
    """A MockTransport handler that answers from a list of statuses or exceptions."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if answer == 200:
            return httpx.Response(200, json=OK)
        headers = {"retry-after": "12"} if answer == 429 else {}
        return httpx.Response(answer, json={"error": {"message": f"status {answer}"}}, headers=headers)


def provider(script: Script, retries: int = 2) -> OpenAICompatibleProvider:
    p = OpenAICompatibleProvider(settings(retries), name="mock", base_url="http://upstream.test/v1")
    p.transport = httpx.MockTransport(script)
    p.retry_wait = wait_none()
    return p


async def test_502_502_200_succeeds_after_three_calls():
    script = Script(502, 502, 200)
    assert (await provider(script).chat(BODY))["choices"][0]["message"]["content"] == "hi"
    assert script.calls == 3


async def test_persistent_503_gives_up_with_the_status():
    script = Script(503)
    with pytest.raises(UpstreamError) as info:
        await provider(script).chat(BODY)
    assert info.value.upstream_status == 503 and script.calls == 3


async def test_zero_retries_means_one_call():
    script = Script(502)
    with pytest.raises(UpstreamError):
        await provider(script, retries=0).chat(BODY)
    assert script.calls == 1


@pytest.mark.parametrize("status", [429, 500, 400, 401])
async def test_other_statuses_are_not_retried(status):
    script = Script(status)
    with pytest.raises(UpstreamError) as info:
        await provider(script).chat(BODY)
    assert script.calls == 1
    if status == 429:
        assert isinstance(info.value, RateLimited) and info.value.retry_after == 12


async def test_connection_errors_are_retried():
    script = Script(httpx.ConnectError("refused"), 200)
    await provider(script).chat(BODY)
    assert script.calls == 2
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(UpstreamConnectionError):
        await provider(script).chat(BODY)
    assert script.calls == 3


async def test_timeouts_are_not_retried():
    script = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(UpstreamTimeout):
        await provider(script).chat(BODY)
    assert script.calls == 1


async def test_stream_retries_before_the_first_byte():
    sse = b'data: {"object": "chat.completion.chunk", "choices": []}\n\ndata: [DONE]\n\n'
    answers = [503, 200]

    def handler(request):
        status = answers.pop(0)
        if status != 200:
            return httpx.Response(status, json={"error": "busy"})
        return httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"})

    p = OpenAICompatibleProvider(settings(2), name="mock", base_url="http://upstream.test/v1")
    p.transport, p.retry_wait = httpx.MockTransport(handler), wait_none()
    chunks = [chunk async for chunk in p.stream(BODY)]
    assert len(chunks) == 1 and answers == []


async def test_call_with_retries_waits_as_the_policy_says_between_tries():
    import httpx as _httpx
    from tenacity import wait_exponential

    from synaxis_core.providers.retry import call_with_retries

    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def flaky():
        calls.append(loop.time())
        if len(calls) < 3:
            raise _httpx.ConnectError("refused")
        return "ok"

    result = await call_with_retries(settings(2), flaky, wait=wait_exponential(multiplier=0.02, max=1.0))
    assert result == "ok" and len(calls) == 3
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert gaps[0] >= 0.019 and gaps[1] >= 0.039  # 0.02 s, then 0.04 s: the policy's own sequence


async def test_call_with_retries_does_not_retry_what_the_policy_does_not():
    from synaxis_core.providers.retry import call_with_retries

    calls = 0

    async def bad():
        nonlocal calls
        calls += 1
        raise ValueError("not retryable")

    with pytest.raises(ValueError):
        await call_with_retries(settings(3), bad)
    assert calls == 1


async def test_call_with_retries_never_waits_past_the_deadline():
    """A 5 s wait between tries, a deadline 0.2 s away: the wait is cut to the deadline
    (the try after it sees the deadline passed and gives up)."""
    from tenacity import wait_fixed

    from synaxis_core.providers.retry import call_with_retries

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.2
    calls: list[float] = []

    async def flaky():
        if loop.time() >= deadline:
            raise TimeoutError
        calls.append(loop.time())
        raise httpx.ConnectError("refused")

    start = loop.time()
    with pytest.raises(TimeoutError):
        await call_with_retries(settings(3), flaky, wait=wait_fixed(5), deadline=deadline)
    assert len(calls) == 1 and loop.time() - start < 0.6


async def test_chat_timeout_bounds_the_retries():
    script = Script(httpx.ConnectError("refused"))
    p = provider(script, retries=5)
    from tenacity import wait_fixed

    p.retry_wait = wait_fixed(5)
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(UpstreamTimeout, match="no answer within 0.2 s"):
        await p.chat(BODY, timeout=0.2)
    assert script.calls == 1 and loop.time() - start < 0.6
