"""Security: tenant isolation, revocation, secrets that never leak, upstreams only from settings.

- A tenant key reads only its own usage; it cannot reach the admin routes (403) and no
  route it can reach shows another tenant's name, keys or limits.
- A revoked key stops working at once on the instance that revoked it (every instance
  within a second: ``tests/test_distributed.py``).
- Keys are stored hashed and shown once. Neither a tenant key, the admin key nor a
  provider key appears in any log record (every logger at every level, during a run
  that creates keys, calls successfully, fails with a wrong key and meets upstream
  errors whose bodies echo the provider key), in an error body, in ``/metrics`` or in
  the database.
- Provider base URLs come from settings and plugins only: fields and headers such as
  ``base_url`` or ``x-synaxis-base-url`` in a request never send it anywhere else.
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from sqlalchemy import text

from synaxis_core.db.models import Base
from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.live_server import live_server
from synaxis_core.testing.waiting import wait_until

CHAT = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "Predict the score."}]}
BODIES = {
    "/v1/responses": {"model": "gpt-oss-120b", "input": "Predict the score."},
    "/v1/completions": {"model": "gpt-oss-120b", "prompt": "Predict the score."},
    "/v1/embeddings": {"model": "bge-m3-nvidia", "input": "Predict the score."},
}
"""The body of each documented route that does not take ``CHAT``."""
NVIDIA_KEY = "nvapi-PROVIDERKEY0123456789abcdefXYZ"
SYNTHETIC_KEY = "syn_PROVIDERKEY9876543210zyxwvuSECRET"
PROVIDER_KEYS = {"NVIDIA_API_KEY": NVIDIA_KEY, "SYNTHETIC_API_KEY": SYNTHETIC_KEY}
ADMIN_PATHS = [
    ("GET", "/admin/models"), ("GET", "/admin/models/gpt-oss-120b-nvidia"),
    ("PATCH", "/admin/models/gpt-oss-120b-nvidia"), ("POST", "/admin/sync"), ("GET", "/admin/tenants"),
    ("POST", "/admin/tenants/test/keys"), ("GET", "/admin/tenants/other/keys"), ("DELETE", "/admin/keys/sk-syn-AbCdE"),
    ("PUT", "/admin/tenants/other/limits"), ("GET", "/admin/usage"),
]


@pytest.fixture
def fake():
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
async def h(fake, sqlite_url):
    async with gateway_harness(
        fake, database_url=sqlite_url, providers=("nvidia", "synthetic"), environ=PROVIDER_KEYS,
        ledger_flush_interval_s=0.01, upstream_retries=0,
    ) as harness:
        yield harness


async def new_key(h, tenant: str) -> str:
    created = await h.client.post(f"/admin/tenants/{tenant}/keys", headers=h.admin())
    assert created.status_code == 201, created.text
    return created.json()["key"]


async def database_text(h) -> str:
    """Every value of every row of every table, as one string."""
    parts = []
    async with h.gateway.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in (await conn.execute(text(f'SELECT * FROM "{table.name}"'))).all():
                parts.append(" ".join(str(value) for value in row))
    return "\n".join(parts)


# --- tenant isolation ------------------------------------------------------------------------


async def test_a_tenant_sees_only_its_own_usage_whatever_it_asks(h):
    other = await new_key(h, "other-tenant")
    await h.client.put("/admin/tenants/other-tenant/limits", headers=h.admin(), json={"rpm": 4242, "budget_usd": 77.5})
    for key, n in ((h.key, 1), (other, 3)):
        for _ in range(n):
            assert (await h.client.post("/v1/chat/completions", headers=h.auth(key), json=CHAT)).status_code == 200
    await h.gateway.ledger.flush()
    for query in ("", "?tenant=other-tenant", "?tenant_id=2", "?tenant=*"):
        mine = await h.client.get("/v1/usage" + query, headers=h.auth())
        assert mine.status_code == 200
        body = mine.json()
        assert body["tenant"] == "test" and {r["tenant"] for r in body["data"]} == {"test"}
        assert sum(r["requests"] for r in body["data"]) == 1
    theirs = (await h.client.get("/v1/usage", headers=h.auth(other))).json()
    assert sum(r["requests"] for r in theirs["data"]) == 3


async def test_no_route_a_tenant_can_reach_shows_another_tenants_keys_or_limits(h):
    other = await new_key(h, "other-tenant")
    await h.client.put("/admin/tenants/other-tenant/limits", headers=h.admin(), json={"rpm": 4242, "budget_usd": 77.5})
    await h.client.post("/v1/chat/completions", headers=h.auth(other), json=CHAT)
    await h.gateway.ledger.flush()
    schema = (await h.client.get("/schema/openapi.json")).json()
    seen = []
    for path in schema["paths"]:
        if path.startswith("/admin"):
            continue
        for method in schema["paths"][path]:
            url = path.replace("{model_id}", "gpt-oss-120b")
            response = await h.client.request(method.upper(), url, headers=h.auth(), json=BODIES.get(path, CHAT))
            seen.append((path, response.status_code, response.text))
    assert {p for p, _, _ in seen} >= {"/v1/models", "/v1/usage", "/health", "/metrics", "/v1/chat/completions"}
    for path, status, body in seen:
        assert status < 400, (path, body)
        for secret in ("other-tenant", other, other[:12], "4242", "77.5"):
            assert secret not in body, (path, secret)


@pytest.mark.parametrize(("method", "path"), ADMIN_PATHS)
async def test_the_admin_routes_refuse_a_tenant_key(h, method, path):
    response = await h.client.request(method, path, headers=h.auth(), json={"active": False})
    assert response.status_code == 403, response.text
    assert response.json()["error"]["type"] == "permission_error"
    assert h.key not in response.text
    # and nothing happened
    assert h.gateway.router.table.by_id["gpt-oss-120b-nvidia"].active


async def test_a_revoked_key_stops_working_at_once(h):
    key = await new_key(h, "leaver")
    assert (await h.client.post("/v1/chat/completions", headers=h.auth(key), json=CHAT)).status_code == 200
    revoked = await h.client.delete(f"/admin/keys/{key[:12]}", headers=h.admin())
    assert revoked.json() == {"revoked": 1}
    for method, path in (("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("GET", "/v1/usage")):
        response = await h.client.request(method, path, headers=h.auth(key), json=CHAT)
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"
    # the other keys of the same tenant and of others keep working
    assert (await h.client.post("/v1/chat/completions", headers=h.auth(), json=CHAT)).status_code == 200


async def test_a_revoked_key_stops_a_stream_being_opened_but_not_one_in_flight(h, monkeypatch):
    """Revocation is checked when a request arrives: the next request fails, and a
    streamed answer already under way is not cut (its usage is still recorded).

    The stream is held after its first upstream chunk (so it is authenticated and under
    way, not merely sent) until the key is revoked and refused, then let go."""
    key = await new_key(h, "leaver")
    nvidia = h.gateway.ext.providers["nvidia"]
    started, release = asyncio.Event(), asyncio.Event()
    upstream_stream = nvidia.stream  # the provider's own, bound before it is replaced

    async def held_after_the_first_chunk(body, **kwargs):
        chunks = upstream_stream(body, **kwargs)
        try:
            yield await anext(chunks)
            started.set()
            await release.wait()
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    monkeypatch.setattr(nvidia, "stream", held_after_the_first_chunk)
    in_flight = asyncio.create_task(
        h.client.post("/v1/chat/completions", headers=h.auth(key), json={**CHAT, "stream": True})
    )
    await wait_until(lambda: started.is_set() or in_flight.done(), what="the in-flight stream's first upstream chunk")
    assert started.is_set(), in_flight.result().text
    assert (await h.client.delete(f"/admin/keys/{key[:12]}", headers=h.admin())).json() == {"revoked": 1}
    assert (await h.client.post("/v1/chat/completions", headers=h.auth(key), json=CHAT)).status_code == 401
    assert not in_flight.done()  # still held: the revocation happened while it was under way
    release.set()
    done = await in_flight
    assert done.status_code == 200 and done.text.endswith("data: [DONE]\n\n")
    assert done.headers["x-synaxis-model"] == "gpt-oss-120b-nvidia"
    await h.gateway.ledger.flush()
    usage = (await h.client.get("/admin/usage", headers=h.admin())).json()
    assert [(r["tenant"], r["requests"], r["ok"]) for r in usage if r["tenant"] == "leaver"] == [("leaver", 1, 1)]


async def test_keys_are_stored_hashed_and_listed_by_prefix_only(h):
    key = await new_key(h, "acme")
    listed = await h.client.get("/admin/tenants/acme/keys", headers=h.admin())
    assert listed.status_code == 200 and [k["prefix"] for k in listed.json()] == [key[:12]]
    assert key not in listed.text and key[12:] not in listed.text
    dump = await database_text(h)
    assert key[:12] in dump  # the prefix is there: the dump did read the keys table
    assert key not in dump and key[12:] not in dump
    assert h.key not in dump and h.key[12:] not in dump


# --- secrets in logs, errors, metrics ------------------------------------------------------------


class CaptureAll(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self, *, client_side: tuple[str, ...] = ()) -> list[str]:
        """Each record fully formatted; ``client_side``: addresses of the gateway, whose
        ``httpx`` request lines are the test's own client talking, not the gateway."""
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        out = []
        for record in self.records:
            if record.name == "httpx" and any(a in record.getMessage() for a in client_side):
                continue
            text_ = formatter.format(record)  # message, exception and stack text included
            out.append(text_ + " " + repr(record.args) + " " + repr(getattr(record, "__dict__", {})))
        return out


LOGGERS = ("", "synaxis", "httpx", "httpcore", "aiohttp", "aiohttp.client", "aiohttp.server", "aiohttp.access",
           "aiohttp.web", "uvicorn", "uvicorn.error", "uvicorn.access", "litestar", "asyncio", "sqlalchemy", "alembic",
           "openai", "tenacity", "pyreqwest", "reqwest", "hyper", "hyper_util")


@pytest.fixture
def all_logs():
    """Every record of every logger, at every level, for the test."""
    capture = CaptureAll()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(1)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


async def test_keys_never_appear_in_logs_errors_metrics_or_the_database(fake, sqlite_url, all_logs):
    echo = f"Incorrect API key provided: {NVIDIA_KEY}. You can find your key at https://build.nvidia.com"
    fake.set("openai/gpt-oss-120b", Behavior(kind="error", status=500, content=echo))
    fake.set("hf:openai/gpt-oss-120b", [
        Behavior(kind="stream_error", content=f"upstream exploded, key={SYNTHETIC_KEY}"),
        Behavior(kind="ok"),
    ])
    fake.set("hf:deepseek-ai/DeepSeek-R1-0528", Behavior(kind="error", status=401, content=f"bad key {SYNTHETIC_KEY}"))
    fake.set("openai/gpt-oss-20b", Behavior(kind="rate_limit", content=f"slow down {NVIDIA_KEY}"))
    bodies: list[str] = []
    async with gateway_harness(
        fake, database_url=sqlite_url, providers=("nvidia", "synthetic"), environ=PROVIDER_KEYS,
        ledger_flush_interval_s=0.01, upstream_retries=0,
    ) as h, live_server(h.app, log_level="debug") as url, httpx.AsyncClient(base_url=url, timeout=10) as real:
        created = await h.client.post("/admin/tenants/acme/keys", headers=h.admin())
        acme = created.json()["key"]
        lookalike = "sk-syn-" + acme[7:-4][::-1] + "ABCD"  # the shape of a real key, not one
        for client in (h.client, real):
            calls = [
                ("POST", "/v1/chat/completions", h.auth(acme), {**CHAT, "stream": True}),  # nvidia 500 -> syn stream error
                ("POST", "/v1/chat/completions", h.auth(acme), CHAT),  # nvidia 500 -> synthetic answers
                ("POST", "/v1/chat/completions", h.auth(), {**CHAT, "model": "gpt-oss-120b-nvidia"}),  # pinned: 502
                ("POST", "/v1/chat/completions", h.auth(), {**CHAT, "model": "deepseek-r1-0528-syn"}),  # 401 upstream
                ("POST", "/v1/chat/completions", h.auth(), {**CHAT, "model": "gpt-oss-20b-nvidia"}),  # 429 upstream
                ("POST", "/v1/chat/completions", h.auth(lookalike), CHAT),  # 401
                ("GET", "/v1/models", h.auth(lookalike), None),
                ("POST", "/v1/chat/completions", {"authorization": f"Bearer {NVIDIA_KEY}"}, CHAT),  # a provider key as ours
                ("GET", "/admin/models", {"authorization": "Bearer " + h.admin_key[::-1]}, None),  # wrong admin key
                ("GET", "/admin/models", h.auth(acme), None),  # 403
                ("GET", "/v1/usage", h.auth(acme), None),
                ("POST", "/v1/chat/completions", h.auth(acme), b'{"model": "' + acme.encode() + b'"'),  # bad JSON
                ("DELETE", f"/admin/keys/{lookalike}", h.admin(), None),  # a full key in a path
            ]
            for method, path, headers, body in calls:
                kwargs = {"content": body} if isinstance(body, bytes) else {"json": body}
                response = await client.request(method, path, headers=headers, **kwargs)
                bodies.append(f"{method} {path} {response.status_code} {dict(response.headers)} {response.text}")
        await h.gateway.ledger.flush()
        metrics = (await h.client.get("/metrics")).text
        dump = await database_text(h)
        revoked = await real.delete(f"/admin/keys/{acme}", headers=h.admin())  # by the full key, over the socket
        assert revoked.json() == {"revoked": 1}

    secrets = {"tenant key": h.key, "created key": acme, "admin key": h.admin_key, "nvidia key": NVIDIA_KEY,
               "synthetic key": SYNTHETIC_KEY, "lookalike key": lookalike}
    statuses = [b.split(" ", 3)[2] for b in bodies]
    assert {"200", "401", "403", "429", "502"} <= set(statuses), statuses
    assert any('"error"' in b and "text/event-stream" in b for b in bodies), "the stream error event was exercised"
    logs = all_logs.texts(client_side=("http://gateway.test/", url + "/"))
    assert len(logs) > 20 and any(r.name.startswith("uvicorn") for r in all_logs.records), "the capture saw the run"
    for what, secret in secrets.items():
        for line in logs:
            assert secret not in line, f"{what} in a log record: {line[:500]}"
        for body in bodies:
            if what == "lookalike key" and body.startswith("DELETE"):
                continue  # the path holds it (the client sent it there); the body must not
            assert secret not in body.split(" ", 3)[3], f"{what} in a response: {body[:500]}"
        assert secret not in metrics, f"{what} in /metrics"
        assert (secret[12:] if len(secret) > 30 else secret) not in dump, f"{what} in the database"  # (prefixes are)


# --- upstream addresses come from settings only ------------------------------------------------------


async def test_a_request_cannot_choose_where_the_gateway_sends_it(h, fake):
    with FakeUpstream() as elsewhere:
        target = elsewhere.base_url("nvidia")
        body = {
            **CHAT, "base_url": target, "api_base": target, "baseURL": target, "endpoint": target + "/chat/completions",
            "api_key": "sk-attacker", "extra_headers": {"host": "attacker.example"},
        }
        headers = {
            **h.auth(), "x-synaxis-base-url": target, "x-base-url": target, "x-forwarded-host": "attacker.example",
            "forwarded": "host=attacker.example", "x-original-url": target, "openai-base-url": target,
        }
        for stream in (False, True):
            response = await h.client.post("/v1/chat/completions", headers=headers, json={**body, "stream": stream})
            assert response.status_code == 200, response.text
        for model in (target + "/chat/completions", "nvidia@" + target, target):
            response = await h.client.post("/v1/chat/completions", headers=h.auth(), json={**CHAT, "model": model})
            assert response.status_code == 404
        assert elsewhere.requests == []
    chats = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2 and all(r.path == "/nvidia/v1/chat/completions" for r in chats)
    for recorded in chats:
        # the provider's key, never the client's; the client's headers are not forwarded
        assert recorded.headers["authorization"] == f"Bearer {NVIDIA_KEY}"
        assert "x-synaxis-base-url" not in recorded.headers and "x-forwarded-host" not in recorded.headers
        assert h.key not in json.dumps(recorded.body) and h.key not in json.dumps(dict(recorded.headers))
