"""`FakeUpstream`: an in-repo, OpenAI-compatible fake of the real providers.

Serves ``/{flavor}/v1/chat/completions`` and ``/{flavor}/v1/models`` for the flavors
openai, synthetic, together and nvidia on 127.0.0.1 (plus synthetic's ``/v2/quotas``),
with each provider's wire quirks (see /work/shared/PROVIDERS.md) and scripted failures
per model (`Behavior`).

Three ways to run it::

    fake = FakeUpstream().start() ... fake.stop()   # background thread, own loop
    with FakeUpstream() as fake: ...                # the same, as a context manager
    async with FakeUpstream() as fake: ...          # inside the current event loop

``FakeUpstream(port=N).serve_forever()`` blocks (Ctrl-C stops it) for demos and
multi-process tests, which drive it over the HTTP control API (`synaxis_core.fake.control`).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from typing import Any

import msgspec
from aiohttp import web

from synaxis_core.postprocess.think import OPENING_TAG_IN_TEMPLATE

from . import control
from .behavior import (
    MODELS_BEHAVIORS,
    OK,
    STALL_DEFAULT_S,
    Behavior,
    BehaviorLike,
    Headers,
    RecordedRequest,
    coerce_sequence,
)
from .chat import completion_body, make_answer, stream_error_line, stream_parts
from .formats import (
    FLAVORS,
    GARBAGE_MODELS,
    INVALID_JSON_BODY,
    SYNTHETIC_PREFIX_ERROR,
    Reply,
    encode,
    error_for,
    error_reply,
    model_not_available,
    models_body,
    prompt_tokens,
    rate_limited,
    unauthorized,
)
from .send import reset, respond, send_cut_body, send_stream
from .server import BackgroundServer

_decode = msgspec.json.decode
_FLAVOR_PATH = "/{flavor:" + "|".join(FLAVORS) + "}"
_REJECTING_KINDS = {"error": error_for, "stream_error": error_for, "rate_limit": rate_limited}


# Models whose chat template supplies the opening <think>: like the real ones, they
# always answer "reasoning</think>answer" unless a test scripts something else.
CLOSE_ONLY = Behavior(kind="think_close_only")


def _check_flavor(flavor: str) -> None:
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}; expected one of {FLAVORS}")


class FakeUpstream(BackgroundServer):
    """A fake OpenAI-compatible upstream on 127.0.0.1 (see the module docstring).

    Args:
        port: the TCP port; 0 picks a free one (read it back from `url`).
        host: the interface; keep the default, tests must not leave the machine.
        api_key: when set, any other bearer token gets a 401 (a token is always needed,
            except for the nvidia models listing).
        max_recorded: `requests` keeps only this many of the most recent requests.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        api_key: str | None = None,
        max_recorded: int = 10_000,
    ) -> None:
        super().__init__(port, host=host)
        self._api_key = api_key
        self._max_recorded = max_recorded
        self._lock = threading.Lock()
        self._behaviors: dict[str, list[Behavior]] = {}
        self._models: dict[str, dict[str, dict[str, Any]]] = {flavor: {} for flavor in FLAVORS}
        self._models_cache: dict[str, bytes] = {}
        self._models_behavior: dict[str, str] = {}
        self._calls: Counter[str] = Counter()
        self._accepted: Counter[str] = Counter()  # flavor -> calls past auth and validation
        self._account_limits: dict[str, tuple[int, str | None]] = {}
        self._requests: list[RecordedRequest] = []
        self._connection_flavors: dict[int, str] = {}  # id(transport) -> flavor of its last request
        self._seq = itertools.count(1)

    # --- addresses (``url`` comes from BackgroundServer) -------------------------------

    def base_url(self, flavor: str) -> str:
        """The OpenAI base URL of a flavor: ``{url}/{flavor}/v1``."""
        _check_flavor(flavor)
        return f"{self.url}/{flavor}/v1"

    # --- scripting -----------------------------------------------------------------

    def add_model(self, flavor: str, upstream_id: str, **extras: Any) -> None:
        """List a model in ``GET /{flavor}/v1/models``; see `synaxis_core.fake.formats.model_entry`
        for the extras (``context_length``, ``input_price``/``output_price`` per million
        tokens, ``type``, ``provider``, ...; others are copied verbatim)."""
        _check_flavor(flavor)
        with self._lock:
            self._models[flavor][upstream_id] = extras
            self._models_cache.pop(flavor, None)

    def set(self, upstream_id: str, behavior: BehaviorLike | list[BehaviorLike] | None) -> None:
        """Script a model's answers: one behaviour for every call, or a list consumed call
        by call whose last item then repeats. ``None`` goes back to "ok"."""
        queue = None if behavior is None else coerce_sequence(behavior)
        with self._lock:
            if queue is None:
                self._behaviors.pop(upstream_id, None)
            else:
                self._behaviors[upstream_id] = queue

    def set_models_behavior(self, flavor: str, behavior: str) -> None:
        """How ``GET /{flavor}/v1/models`` answers: "ok", "garbage" (valid JSON, wrong
        shape), "error" (500 in the flavor's error shape) or "invalid_json"."""
        _check_flavor(flavor)
        if behavior not in MODELS_BEHAVIORS:
            expected = sorted(MODELS_BEHAVIORS)
            raise ValueError(f"unknown models behaviour {behavior!r}; expected one of {expected}")
        self._models_behavior[flavor] = behavior

    def set_account_limit(
        self, flavor: str, requests: int | None, *, retry_after: str | None = None
    ) -> None:
        """An account-wide cap: once a flavor has accepted ``requests`` chat calls (since
        the last `reset`), every further call, whatever the model, gets the flavor's 429
        (synthetic's subscription cap, NIM's free tier). ``None`` lifts the cap."""
        _check_flavor(flavor)
        if requests is None:
            self._account_limits.pop(flavor, None)
        else:
            self._account_limits[flavor] = (requests, retry_after)

    @property
    def calls(self) -> Counter[str]:
        """Upstream model id -> chat-completion requests received (whatever the outcome)."""
        return self._calls

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every upstream request received (not the control API), oldest first."""
        return self._requests

    def open_connections(self) -> Counter[str]:
        """Client connections open now, by the flavor of the last request each carried
        (a client that leaks a connection, or never reuses one, shows more than it
        needs: sequential requests need one per client)."""
        server = self._runner.server if self._runner is not None else None
        open_now: Counter[str] = Counter()
        for handler in list(server.connections if server is not None else ()):
            transport = handler.transport
            if transport is not None and not transport.is_closing():
                open_now[self._connection_flavors.get(id(transport), "?")] += 1
        return open_now

    def reset(self) -> None:
        """Forget behaviours, models-listing behaviours, account limits, counters and
        recorded requests; the added models stay listed."""
        with self._lock:
            self._behaviors.clear()
            self._models_behavior.clear()
            self._account_limits.clear()
            self._calls.clear()
            self._accepted.clear()
            self._requests.clear()

    def _next_behavior(self, model: str) -> Behavior:
        with self._lock:
            queue = self._behaviors.get(model)
            if not queue:
                return CLOSE_ONLY if OPENING_TAG_IN_TEMPLATE.search(model) else OK
            return queue.pop(0) if len(queue) > 1 else queue[0]

    # --- request handling ----------------------------------------------------------

    def _record(self, flavor: str, request: web.Request, body: dict | None) -> None:
        self._requests.append(RecordedRequest(flavor, request.path, Headers(request.headers), body))
        if request.transport is not None:
            self._connection_flavors[id(request.transport)] = flavor
        if len(self._requests) > self._max_recorded:
            del self._requests[: len(self._requests) - self._max_recorded]

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        return scheme.lower() == "bearer" and bool(token) and self._api_key in (None, token)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        """Chat completions, in this order: record the request, count the call, check
        the key, validate the body (synthetic: the id prefix), apply the account limit,
        then the model's next behaviour."""
        flavor = request.match_info["flavor"]
        seq = next(self._seq)
        request_id = f"req-fake-{seq}"
        try:
            body = _decode(await request.read())
        except Exception:  # noqa: BLE001 - anything undecodable is "not JSON"
            body = None
        body = body if isinstance(body, dict) else None
        self._record(flavor, request, body)
        model = body.get("model") if body else None
        if isinstance(model, str):
            self._calls[model] += 1
        if not self._authorized(request):
            return respond(unauthorized(flavor), request_id)
        if not isinstance(model, str) or not isinstance(body.get("messages"), list):
            required = "`model` and `messages` are required"
            return respond(error_reply(flavor, 400, required), request_id)
        if flavor == "synthetic" and not model.startswith(("hf:", "syn:")):
            return respond(error_reply(flavor, 400, SYNTHETIC_PREFIX_ERROR), request_id)
        self._accepted[flavor] += 1
        limit = self._account_limits.get(flavor)
        if limit is not None and self._accepted[flavor] > limit[0]:
            capped = Behavior(kind="rate_limit", retry_after=limit[1])
            return respond(rate_limited(flavor, capped), request_id)
        behavior = self._next_behavior(model)
        kind, stream = behavior.kind, body.get("stream") is True
        delay = behavior.delay_s or (STALL_DEFAULT_S if kind == "stall" else 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        if kind == "reset":
            return reset(request)
        if kind in _REJECTING_KINDS and not (kind == "stream_error" and stream):
            return respond(_REJECTING_KINDS[kind](flavor, behavior), request_id)
        if kind == "model_not_available":
            return respond(model_not_available(flavor, model, behavior), request_id)
        if kind == "invalid_json" and not stream:
            return respond(Reply(200, INVALID_JSON_BODY), request_id)
        answer = make_answer(flavor, behavior, body)
        completion_id, prompt = f"chatcmpl-fake-{seq}", prompt_tokens(body["messages"])
        if stream:
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            parts = stream_parts(
                answer,
                completion_id,
                model,
                prompt,
                include_usage=include_usage,
                chunk_size=behavior.chunk_size,
            )
            error = b""
            if kind == "stream_error":
                error = stream_error_line(flavor, behavior.status, behavior.content)
            return await send_stream(request, request_id, kind, parts, error, behavior.chunk_delay_s)
        payload = completion_body(answer, completion_id, model, prompt)
        if kind == "cut":
            return await send_cut_body(request, payload, request_id)
        return respond(Reply(200, payload), request_id)

    async def _models_listing(self, request: web.Request) -> web.Response:
        flavor = request.match_info["flavor"]
        self._record(flavor, request, None)
        if flavor != "nvidia" and not self._authorized(request):
            return respond(unauthorized(flavor))
        mode = self._models_behavior.get(flavor, "ok")
        if mode == "error":
            return respond(error_reply(flavor, 500))
        if mode == "invalid_json":
            return respond(Reply(200, INVALID_JSON_BODY))
        if mode == "garbage":
            return respond(Reply(200, encode(GARBAGE_MODELS)))
        cached = self._models_cache.get(flavor)
        if cached is None:
            with self._lock:
                cached = self._models_cache[flavor] = models_body(flavor, self._models[flavor])
        return respond(Reply(200, cached))

    async def _quotas(self, request: web.Request) -> web.Response:
        """Synthetic's ``GET /v2/quotas``: the subscription counter and its renewal time."""
        self._record("synthetic", request, None)
        if not self._authorized(request):
            return respond(unauthorized("synthetic"))
        default = (control.SYNTHETIC_QUOTA_LIMIT, None)
        limit = self._account_limits.get("synthetic", default)[0]
        used = min(self._accepted["synthetic"], limit)
        return respond(Reply(200, encode(control.quota(used, limit))))

    def make_app(self) -> web.Application:
        """The aiohttp application (upstream routes plus the ``/_fake`` control API)."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post(_FLAVOR_PATH + "/v1/chat/completions", self._chat)
        app.router.add_get(_FLAVOR_PATH + "/v1/models", self._models_listing)
        app.router.add_get("/synthetic/v2/quotas", self._quotas)
        app.add_routes(control.routes(self))
        return app

    def banner(self) -> list[str]:
        """The base URL of each flavor and the control API (printed by serve_forever)."""
        lines = [f"{flavor:<10} {self.base_url(flavor)}" for flavor in FLAVORS]
        return lines + [f"{'control':<10} {self.url}/_fake/"]


def run(host: str = "127.0.0.1", port: int = 8089, api_key: str | None = None) -> None:
    """Serve a fake upstream in the foreground until Ctrl-C."""
    FakeUpstream(port=port, host=host, api_key=api_key).serve_forever()


def main(argv: list[str] | None = None) -> int:
    """Command line ``[--host H] [--port N] [--api-key K]``: serve until Ctrl-C, exit 0.

    Meant for a CLI verb (``synaxis fake-upstream``); ad hoc:
    ``python -c "from synaxis_core.fake.upstream import main; main()" --port 8089``.
    """
    args = control.parse_args(argv)
    run(args.host, args.port, args.api_key)
    return 0
