"""``POST /v1/embeddings``: decode, call the pipeline, encode.

A plain ASGI endpoint like ``server.chat``: the key from memory, the body within the
limit, the request checked by ``dialects.embeddings``, then ``Pipeline.embed`` (routing
among the deployments of kind ``embedding``, failover, limits, the ledger) and the
upstream's answer as JSON, its ``model`` the name the client asked for. Errors are
OpenAI-shaped. No response cache, no streaming (the API has none).
"""

from __future__ import annotations

import msgspec

from synaxis_core.dialects.embeddings import DIALECT, finish, translate_request
from synaxis_core.errors import SynaxisError
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.server.asgi import Receive, Scope, Send, send_bytes
from synaxis_core.server.edge import (
    JSON_HEADER,
    HotEndpoint,
    READ_HEADERS,
    answer_headers,
    call_options,
    decode_json_object,
    read_json_body,
    request_headers,
)

EMBEDDINGS_PATH = "/v1/embeddings"
_encode = msgspec.json.encode


class EmbeddingsEndpoint(HotEndpoint):
    """The ASGI app of ``POST /v1/embeddings`` (OpenAI-compatible)."""

    path = EMBEDDINGS_PATH

    async def serve(self, gateway: Gateway, request_id: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers = request_headers(scope["headers"], READ_HEADERS)
        tenant = gateway.authenticate(headers.get("authorization"))
        try:
            raw = await read_json_body(receive, headers, gateway.settings.max_body_bytes)
            request = translate_request(decode_json_object(raw, "`model` and `input`"))
            call_options(request, headers)
        except SynaxisError as exc:  # an unreadable request is still one ledger row
            await gateway.pipeline.reject(tenant, request_id, exc, dialect=DIALECT)
            raise
        answer = await gateway.pipeline.embed(tenant, request, request_id)
        headers_out = [JSON_HEADER, *answer_headers(gateway, answer, request_id)]
        await send_bytes(send, 200, headers_out, _encode(finish(answer.response, request)))
