"""Schemathesis against the gateway's own OpenAPI (``/schema/openapi.json``), bounded.

A real ``synaxis serve`` on a loopback port, the providers pointed at a fake upstream
that answers everything. Schemathesis generates requests for every documented
operation (valid and invalid bodies, parameters and boundary values) and checks that

- no answer is a 5xx, and
- every error (4xx) is in the OpenAI shape ``{"error": {"message", "type", "param", "code"}}``
  (Anthropic's ``{"type": "error", "error": {"type", "message"}}`` on ``/v1/messages``)
  with a JSON content type.

``POST /admin/sync`` is left out: a sync round fetches the models.dev catalog. Bounded
by ``MAX_EXAMPLES`` per operation (``SYNAXIS_FUZZ_EXAMPLES`` raises it for a longer run).
"""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synaxis_core.fake import FakeUpstream
from synaxis_core.testing.gateway import fake_environ
from synaxis_core.testing.server_process import GatewayProcess

ADMIN_KEY = "admin-fuzz-key"
MAX_EXAMPLES = int(os.environ.get("SYNAXIS_FUZZ_EXAMPLES", "25"))
PROVIDERS = ("nvidia", "synthetic", "together")
KNOWN_MODELS = ["gpt-oss-120b", "gpt-oss-120b-nvidia", "deepseek-r1-0528-syn", "hf:openai/gpt-oss-120b", None]
"""What the chat operation's ``model`` is replaced with (None: keep schemathesis's)."""
MODEL_PATHS = ("/v1/chat/completions", "/v1/messages", "/v1/completions")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, tenant key) of a running gateway."""
    root = tmp_path_factory.mktemp("fuzz")
    with FakeUpstream() as fake:
        environ = {
            **fake_environ(fake, PROVIDERS),
            "SYNAXIS_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'synaxis.db'}",
            "SYNAXIS_ADMIN_KEY": ADMIN_KEY,
            "SYNAXIS_LOAD_PLUGINS": ",".join((*PROVIDERS, "modelsdev")),
            "SYNAXIS_MODELSDEV_URL": fake.url + "/models-dev-is-not-here.json",
            "SYNAXIS_LEDGER_FLUSH_INTERVAL_S": "0.05",
        }
        gateway = GatewayProcess(environ, log_path=root / "serve.log").start()
        try:
            asyncio.run(gateway.wait_ready())
            created = httpx.post(
                gateway.url + "/admin/tenants/fuzz/keys", headers={"authorization": f"Bearer {ADMIN_KEY}"}
            )
            assert created.status_code == 201, created.text
            yield gateway.url, created.json()["key"]
        finally:
            gateway.stop()
        log = (root / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log and "unexpected error" not in log, log[-5000:]


def _operations():
    """The documented operations, from the app's own schema (built without a gateway)."""
    from synaxis_core.server.app import create_app
    from synaxis_core.settings import Settings

    document = create_app(Settings.from_env({}), gateway=object()).openapi_schema.to_schema()  # type: ignore[arg-type]
    loaded = schemathesis.openapi.from_dict(document).exclude(operation_id="adminSync")
    return [result.ok() for result in loaded.get_all_operations()]


def _cases():
    """(operation, generation mode): positive for all, negative where there is input to break."""
    for operation in _operations():
        yield pytest.param(operation, schemathesis.GenerationMode.POSITIVE, id=f"{operation.label} valid")
        raw = operation.definition.raw
        if raw.get("requestBody") or any(p.get("in") != "path" for p in raw.get("parameters", ())):  # a path
            # parameter typed as a string cannot be made invalid
            yield pytest.param(operation, schemathesis.GenerationMode.NEGATIVE, id=f"{operation.label} invalid")


def check_openai_error_shape(response) -> None:
    """Every 4xx/5xx is a JSON object ``{"error": {message, type, param, code}}``."""
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]  # schemathesis: header -> list of values
    assert content_type.startswith("application/json"), f"error with content type {content_type!r}: {response.text[:300]}"
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the OpenAI error shape: {body!r}"
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["type"], str), error


def check_anthropic_error_shape(response) -> None:
    """``/v1/messages`` answers errors as Anthropic does: ``{"type": "error", "error": {type, message}}``."""
    if response.status_code < 400:
        return
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.text[:300]
    body = response.json()
    assert isinstance(body, dict) and body.get("type") == "error" and set(body) == {"type", "error"}, body
    assert set(body["error"]) == {"type", "message"} and body["error"]["message"], body


@pytest.mark.parametrize(("operation", "mode"), list(_cases()))
def test_the_api_never_answers_5xx_and_errors_are_openai_shaped(server, operation, mode):
    url, key = server
    token = ADMIN_KEY if operation.path.startswith("/admin") else key
    headers = {"authorization": f"Bearer {token}"}
    session = requests.Session()

    @given(case=operation.as_strategy(generation_mode=mode), model=st.sampled_from(KNOWN_MODELS))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case, model):
        if model and operation.path in MODEL_PATHS and isinstance(case.body, dict):
            case.body["model"] = model  # mostly served models: reach routing, the upstream, streaming
        response = case.call(base_url=url, session=session, headers=headers, timeout=30)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
        if operation.path.startswith("/v1/messages"):
            check_anthropic_error_shape(response)
        else:
            check_openai_error_shape(response)

    run()
