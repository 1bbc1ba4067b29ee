"""Guessing the admin key: after a few failures a client is refused before its key is
checked (429 with Retry-After), the failures are logged without the key, and counted."""

from __future__ import annotations

import logging

import pytest

from synaxis_core.fake import FakeUpstream
from synaxis_core.testing.gateway import gateway_harness

GUESS = "guess-0123456789-not-the-key"


@pytest.fixture
async def h(sqlite_url):
    async with FakeUpstream() as fake, gateway_harness(fake, database_url=sqlite_url, auth_max_failures=3) as harness:
        yield harness


async def test_a_guessing_client_is_throttled_and_the_key_never_logged(h, caplog):
    caplog.set_level(logging.WARNING, logger="synaxis.auth")
    bad = {"authorization": f"Bearer {GUESS}"}
    statuses = [(await h.client.get("/admin/tenants", headers=bad)).status_code for _ in range(3)]
    refused = await h.client.get("/admin/tenants", headers=h.admin())  # even the right key, from this client
    assert statuses == [401, 401, 401]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert GUESS not in caplog.text and GUESS[:8] not in caplog.text
    assert caplog.text.count("failed admin authentication") == 3
    metrics = (await h.client.get("/metrics")).text
    assert 'synaxis_auth_failures_total{outcome="failed"} 3.0' in metrics
    assert 'synaxis_auth_failures_total{outcome="throttled"} 1.0' in metrics


async def test_a_right_key_before_the_limit_clears_the_count(h):
    bad = {"authorization": f"Bearer {GUESS}"}
    for _ in range(2):
        assert (await h.client.get("/admin/tenants", headers=bad)).status_code == 401
    assert (await h.client.get("/admin/tenants", headers=h.admin())).status_code == 200
    for _ in range(2):
        assert (await h.client.get("/admin/tenants", headers=bad)).status_code == 401
    assert (await h.client.get("/admin/tenants", headers=h.admin())).status_code == 200
