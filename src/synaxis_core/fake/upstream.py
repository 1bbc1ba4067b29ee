"""`FakeUpstream`: an in-repo, OpenAI-compatible fake of the real providers.

Serves ``/{flavor}/v1/chat/completions``, ``/{flavor}/v1/embeddings`` (``fake.embeddings``)
and ``/{flavor}/v1/models`` on 127.0.0.1 for
each flavour it knows (plus a flavour's extra routes), with that vendor's wire quirks
(`Flavor`) and scripted failures per model (`Behavior`). It always knows ``openai``;
the other flavours are the ones it is given, by default those of every installed
plugin (hook ``register_fake_flavors``).

Three ways to run it::

    fake = FakeUpstream().start() ... fake.stop()   # background thread, own loop
    with FakeUpstream() as fake: ...                # the same, as a context manager
    async with FakeUpstream(flavors=[ACME]) as fake: ...  # in the current event loop

``FakeUpstream(port=N).serve_forever()`` blocks (Ctrl-C stops it) for demos and
multi-process tests, which drive it over the HTTP control API (`synaxis_core.fake.control`).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import msgspec
from aiohttp import web

from synaxis_core.plugins import installed_fake_flavors
from synaxis_core.postprocess.think import OPENING_TAG_IN_TEMPLATE

from . import control, embeddings, wire
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
from .flavor import OPENAI, Flavor, FlavorUsage
from .formats import (
    GARBAGE_MODELS,
    INVALID_JSON_BODY,
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
from .model import MODEL_KINDS, model_turn
from .send import reset, respond, send_cut_body, send_stream
from .server import BackgroundServer

_decode = msgspec.json.decode
_FLAVOR_PATH = "/{flavor:[A-Za-z0-9][A-Za-z0-9._-]*}"  # not "/_fake": the control API
_REJECTING_KINDS = {"error": error_for, "stream_error": error_for, "rate_limit": rate_limited}


def _chat_problem(body: dict | None) -> str | None:
    """Why the fake refuses a chat-completion body (a 400), or None."""
    if body is None or not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
        return "`model` and `messages` are required"
    return None


# Models whose chat template supplies the opening <think>: like the real ones, they
# always answer "reasoning</think>answer" unless a test scripts something else.
CLOSE_ONLY = Behavior(kind="think_close_only")


def installed_flavors() -> dict[str, Flavor]:
    """``openai`` and the flavours of every installed plugin: what `FakeUpstream` serves
    by default."""
    return {OPENAI.name: OPENAI, **installed_fake_flavors()}


class FakeUpstream(BackgroundServer):
    """A fake OpenAI-compatible upstream on 127.0.0.1 (see the module docstring).

    Args:
        port: the TCP port; 0 picks a free one (read it back from `url`).
        host: the interface; keep the default, tests must not leave the machine.
        api_key: when set, any other bearer token gets a 401 (a token is always needed,
            except for the models listing of a flavour whose listing needs no key).
        max_recorded: `requests` keeps only this many of the most recent requests.
        flavors: the flavours to serve besides ``openai`` (one of the same name
            replaces it); None: ``openai`` and every installed plugin's (`installed_flavors`).
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        api_key: str | None = None,
        max_recorded: int = 10_000,
        flavors: Iterable[Flavor] | None = None,
    ) -> None:
        super().__init__(port, host=host)
        self._api_key = api_key
        self._max_recorded = max_recorded
        self._lock = threading.Lock()
        self._flavors: dict[str, Flavor] = {}
        self._models: dict[str, dict[str, dict[str, Any]]] = {}
        self._behaviors: dict[str, list[Behavior]] = {}
        self._models_cache: dict[str, bytes] = {}
        self._models_behavior: dict[str, str] = {}
        self._calls: Counter[str] = Counter()
        self._accepted: Counter[str] = Counter()  # flavor -> calls past auth and validation
        self._account_limits: dict[str, tuple[int, str | None]] = {}
        self._requests: list[RecordedRequest] = []
        self._connection_flavors: dict[int, str] = {}  # id(transport) -> flavor of its last request
        self._seq = itertools.count(1)
        for flavor in installed_flavors().values() if flavors is None else (OPENAI, *flavors):
            self.add_flavor(flavor)

    # --- addresses (``url`` comes from BackgroundServer) -------------------------------

    def base_url(self, flavor: str) -> str:
        """The OpenAI base URL of a flavor: ``{url}/{flavor}/v1``."""
        self._flavor(flavor)
        return f"{self.url}/{flavor}/v1"

    @property
    def flavors(self) -> Mapping[str, Flavor]:
        """The flavours served, by name (read-only; see `add_flavor`)."""
        return MappingProxyType(self._flavors)

    def add_flavor(self, flavor: Flavor) -> None:
        """Serve ``flavor`` under ``/{flavor.name}/v1`` from now on (running or not); it
        replaces a flavour of the same name, keeping its listed models."""
        if not isinstance(flavor, Flavor):
            raise TypeError(f"expected a Flavor, not {flavor!r}")
        with self._lock:
            self._flavors[flavor.name] = flavor
            self._models.setdefault(flavor.name, {})
            self._models_cache.pop(flavor.name, None)

    def _flavor(self, name: str) -> Flavor:
        flavor = self._flavors.get(name)
        if flavor is None:
            raise ValueError(f"unknown flavor {name!r}; expected one of {sorted(self._flavors)}")
        return flavor

    # --- scripting -----------------------------------------------------------------

    def add_model(self, flavor: str, upstream_id: str, **extras: Any) -> None:
        """List a model in ``GET /{flavor}/v1/models``; the flavour's `Flavor.model_entry`
        reads the extras (``context_length``, ``input_price``/``output_price`` per million
        tokens, ``type``, ...; the OpenAI entry copies them verbatim)."""
        self._flavor(flavor)
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
        self._flavor(flavor)
        if behavior not in MODELS_BEHAVIORS:
            expected = sorted(MODELS_BEHAVIORS)
            raise ValueError(f"unknown models behaviour {behavior!r}; expected one of {expected}")
        self._models_behavior[flavor] = behavior

    def set_account_limit(
        self, flavor: str, requests: int | None, *, retry_after: str | None = None
    ) -> None:
        """An account-wide cap: once a flavor has accepted ``requests`` chat calls (since
        the last `reset`), every further call, whatever the model, gets the flavor's 429
        (a subscription cap, a free tier). ``None`` lifts the cap."""
        self._flavor(flavor)
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

    def open_connections(self, ignore: Collection[Any] = ()) -> Counter[str]:
        """Client connections open now, by the flavor of the last request each carried
        (a client that leaks a connection, or never reuses one, shows more than it
        needs: sequential requests need one per client). ``ignore``: connections
        (from :meth:`open_transports`) not to count, e.g. those open before a test began."""
        open_now: Counter[str] = Counter()
        for transport in self.open_transports():
            if transport not in ignore:
                open_now[self._connection_flavors.get(id(transport), "?")] += 1
        return open_now

    def open_transports(self) -> frozenset[Any]:
        """The client connections open now (for :meth:`open_connections`' ``ignore``)."""
        server = self._runner.server if self._runner is not None else None
        handlers = list(server.connections if server is not None else ())
        return frozenset(h.transport for h in handlers if h.transport is not None and not h.transport.is_closing())

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

    def _served(self, request: web.Request) -> Flavor:
        """The flavour named in the path (a plain 404 for one not served)."""
        flavor = self._flavors.get(request.match_info["flavor"])
        if flavor is None:
            raise web.HTTPNotFound()
        return flavor

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        return scheme.lower() == "bearer" and bool(token) and self._api_key in (None, token)

    async def _received(
        self, request: web.Request, problem: Callable[[dict | None], str | None]
    ) -> tuple[Flavor, int, dict, str, Behavior] | web.StreamResponse:
        """What every upstream call does first, in this order: record the request, count
        the call, check the key, validate the body (``problem``, then the flavour's
        model-id prefixes), apply the account limit, take the model's next behaviour and
        wait its delay. Returns (flavour, sequence number, body, model, behaviour), or
        the reply that ends the call."""
        flavor = self._served(request)
        name = flavor.name
        seq = next(self._seq)
        request_id = f"req-fake-{seq}"
        try:
            body = _decode(await request.read())
        except Exception:  # noqa: BLE001 - anything undecodable is "not JSON"
            body = None
        body = body if isinstance(body, dict) else None
        self._record(name, request, body)
        model = body.get("model") if body else None
        if isinstance(model, str):
            self._calls[model] += 1
        if not self._authorized(request):
            return respond(unauthorized(flavor), request_id)
        refused = problem(body)
        if refused is not None:
            return respond(error_reply(flavor, 400, refused), request_id)
        if flavor.model_id_prefixes and not model.startswith(flavor.model_id_prefixes):  # type: ignore[union-attr]
            return respond(error_reply(flavor, 400, flavor.model_id_error), request_id)
        self._accepted[name] += 1
        limit = self._account_limits.get(name)
        if limit is not None and self._accepted[name] > limit[0]:
            capped = Behavior(kind="rate_limit", retry_after=limit[1])
            return respond(rate_limited(flavor, capped), request_id)
        behavior = self._next_behavior(model)  # type: ignore[arg-type]
        delay = behavior.delay_s or (STALL_DEFAULT_S if behavior.kind == "stall" else 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        return flavor, seq, body, model, behavior  # type: ignore[return-value]

    def _failure(
        self, request: web.Request, flavor: Flavor, behavior: Behavior, model: str, request_id: str, stream: bool
    ) -> web.StreamResponse | None:
        """The reply of a behaviour that fails the call before any answer (None: it answers)."""
        kind = behavior.kind
        if kind == "reset":
            return reset(request)
        if kind in _REJECTING_KINDS and not (kind == "stream_error" and stream):
            return respond(_REJECTING_KINDS[kind](flavor, behavior), request_id)
        if kind == "model_not_available":
            return respond(model_not_available(flavor, model, behavior), request_id)
        if kind == "invalid_json" and not stream:
            return respond(Reply(200, INVALID_JSON_BODY), request_id)
        return None

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1/embeddings`` (``fake.embeddings``): the failure kinds as for chat,
        ``cut`` cuts the body; every other kind answers the vectors."""
        received = await self._received(request, embeddings.problem)
        if isinstance(received, web.StreamResponse):
            return received
        flavor, seq, body, model, behavior = received
        request_id = f"req-fake-{seq}"
        failed = self._failure(request, flavor, behavior, model, request_id, stream=False)
        if failed is not None:
            return failed
        payload = embeddings.embeddings_body(body, model)
        if behavior.kind == "cut":
            return await send_cut_body(request, payload, request_id)
        return respond(Reply(200, payload), request_id)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        """Chat completions: ``_received``, then the model's next behaviour."""
        received = await self._received(request, _chat_problem)
        if isinstance(received, web.StreamResponse):
            return received
        flavor, seq, body, model, behavior = received
        request_id = f"req-fake-{seq}"
        kind, stream = behavior.kind, body.get("stream") is True
        failed = self._failure(request, flavor, behavior, model, request_id, stream)
        if failed is not None:
            return failed
        completion_id, prompt = f"chatcmpl-fake-{seq}", prompt_tokens(body["messages"])
        options = body.get("stream_options")
        include_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
        if kind in MODEL_KINDS:
            turn = model_turn(flavor, behavior, body)
            if stream:
                parts = wire.stream(turn, body, completion_id, model, prompt, include_usage=include_usage)
                return await send_stream(request, request_id, kind, parts, b"", behavior.chunk_delay_s)
            return respond(Reply(200, wire.body(turn, body, completion_id, model, prompt)), request_id)
        answer = make_answer(flavor, behavior, body)
        if stream:
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
        flavor = self._served(request)
        name = flavor.name
        self._record(name, request, None)
        if flavor.listing_needs_key and not self._authorized(request):
            return respond(unauthorized(flavor))
        mode = self._models_behavior.get(name, "ok")
        if mode == "error":
            return respond(error_reply(flavor, 500))
        if mode == "invalid_json":
            return respond(Reply(200, INVALID_JSON_BODY))
        if mode == "garbage":
            return respond(Reply(200, encode(GARBAGE_MODELS)))
        cached = self._models_cache.get(name)
        if cached is None:
            with self._lock:
                cached = self._models_cache[name] = models_body(flavor, self._models[name])
        return respond(Reply(200, cached))

    async def _extra_route(self, request: web.Request) -> web.Response:
        """A flavour's own ``GET`` route (`Flavor.routes`), e.g. a quota endpoint."""
        flavor = self._served(request)
        route = flavor.routes.get("/" + request.match_info["path"])
        if route is None:
            raise web.HTTPNotFound()
        self._record(flavor.name, request, None)
        if not self._authorized(request):
            return respond(unauthorized(flavor))
        limit = self._account_limits.get(flavor.name)
        usage = FlavorUsage(self._accepted[flavor.name], None if limit is None else limit[0])
        return respond(Reply(200, encode(route(usage))))

    def make_app(self) -> web.Application:
        """The aiohttp application (upstream routes plus the ``/_fake`` control API)."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post(_FLAVOR_PATH + "/v1/chat/completions", self._chat)
        app.router.add_post(_FLAVOR_PATH + "/v1/embeddings", self._embeddings)
        app.router.add_get(_FLAVOR_PATH + "/v1/models", self._models_listing)
        app.add_routes(control.routes(self))
        app.router.add_get(_FLAVOR_PATH + "/{path:.+}", self._extra_route)
        return app

    def banner(self) -> list[str]:
        """The base URL of each flavor and the control API (printed by serve_forever)."""
        lines = [f"{name:<10} {self.base_url(name)}" for name in self._flavors]
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
