"""Failed admin authentication is throttled per client and per key prefix, logged without the key."""

from __future__ import annotations

import logging

import pytest

from synaxis_core.limits.auth_throttle import AuthThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def brute_force(throttle: AuthThrottle, client: str, attempts: int, prefix: str = "sk-guess") -> tuple[int, int]:
    """``attempts`` wrong keys as a caller would handle them: (compared, refused unchecked)."""
    compared = refused = 0
    for n in range(attempts):
        if throttle.check(client, f"{prefix}{n % 7}") is not None:
            refused += 1
            continue
        compared += 1
        throttle.failed(client, f"{prefix}{n % 7}")
    return compared, refused


def test_a_brute_force_gets_a_handful_of_guesses_per_window():
    """20,000 wrong keys from one client: 10 are compared, the rest refused (429) unchecked."""
    clock = Clock()
    counts: list[str] = []
    throttle = AuthThrottle(max_failures=10, window_s=60, clock=clock, count=counts.append)
    assert brute_force(throttle, "10.0.0.1", 20_000) == (10, 19_990)
    assert counts.count("failed") == 10 and counts.count("throttled") == 19_990
    wait = throttle.check("10.0.0.1")
    assert wait == pytest.approx(60.0)
    assert throttle.check("10.0.0.2") is None  # another client is not affected
    clock.now += 60  # the window passes: a few more guesses
    assert brute_force(throttle, "10.0.0.1", 100) == (10, 90)


def test_the_wait_ends_when_the_oldest_failure_leaves_the_window():
    clock = Clock()
    throttle = AuthThrottle(max_failures=3, window_s=60, clock=clock)
    for step in (0, 10, 20):
        clock.now = 100.0 + step
        throttle.failed("c")
    assert throttle.check("c") == pytest.approx(40.0)  # at 120: the failure at 100 frees at 160
    clock.now = 160.0
    assert throttle.check("c") is None


def test_a_key_prefix_is_throttled_across_clients():
    """Guesses at one key prefix spread over many addresses are stopped too."""
    clock = Clock()
    throttle = AuthThrottle(max_failures=10, max_prefix_failures=20, window_s=60, clock=clock)
    compared = 0
    for n in range(1000):
        client = f"10.1.{n // 250}.{n % 250}"  # a new address for every guess
        if throttle.check(client, "sk-adm1") is None:
            compared += 1
            throttle.failed(client, "sk-adm1")
    assert compared == 20
    assert throttle.check("10.9.9.9", "sk-other") is None


def test_success_forgets_the_failures():
    throttle = AuthThrottle(max_failures=3, clock=Clock())
    for _ in range(2):
        throttle.failed("c", "sk-a")
    throttle.succeeded("c", "sk-a")
    for _ in range(2):
        throttle.failed("c", "sk-a")
    assert throttle.check("c", "sk-a") is None


def test_failures_are_logged_without_the_key_and_a_flood_logs_little(caplog):
    throttle = AuthThrottle(max_failures=5, clock=Clock())
    secret = "sk-admin-hunter2-5f3a"
    with caplog.at_level(logging.WARNING, logger="synaxis.auth"):
        brute_force(throttle, "203.0.113.7", 10_000, prefix=secret)
    assert "203.0.113.7" in caplog.text and "throttled" in caplog.text
    assert "hunter2" not in caplog.text and "sk-admin" not in caplog.text
    assert len(caplog.records) <= 5 + 2  # each compared failure, and the moments it throttled


def test_memory_is_bounded_whatever_the_number_of_clients():
    throttle = AuthThrottle(max_failures=3, max_tracked=100, clock=Clock())
    for n in range(10_000):
        throttle.failed(f"client-{n}", f"prefix-{n}")
    assert throttle.tracked() == 200
    assert throttle.check("client-9999", "prefix-9999") is None  # one failure each: not throttled
