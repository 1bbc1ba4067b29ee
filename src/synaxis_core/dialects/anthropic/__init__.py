"""The Anthropic Messages dialect (``/v1/messages``), translated to and from chat terms.

- ``translate_request``: a Messages request (decoded JSON) -> ``ChatRequest``
  (``dialect="messages"``); ``count_tokens`` -> ``{"input_tokens": N}``, Synaxis's own
  estimate of the translated messages.
- ``to_message``: a whole chat completion -> an Anthropic ``message``.
- ``StreamTranslator``: ``chat.completion.chunk`` dicts in, ``(event name, data)`` out,
  then ``finish()``: ``message_start``, ``ping``, ``content_block_start`` / ``_delta`` /
  ``_stop`` per block, ``message_delta``, ``message_stop``. Folding its events back into
  a message gives exactly what ``to_message`` gives for the same answer unstreamed.
- ``anthropic_error_shape`` / ``error_body``: errors as ``{"type": "error", "error":
  {"type", "message"}}``.

Choices made where chat completions have no equivalent (the manual, docs/api/messages.md):
thinking blocks sent back by the client (with their ``signature``) are dropped, since
chat upstreams have no common field for an earlier turn's reasoning and some refuse it;
the thinking blocks answered carry an empty ``signature``; ``cache_control``, server
tools (no ``input_schema``) and unknown fields and blocks are ignored; ``is_error`` on a
tool result prefixes its text with ``Error:``.

``request.py`` holds the errors and the request side; ``answer.py`` the message and
the stream.
"""

from synaxis_core.dialects.anthropic.answer import StreamTranslator, to_message
from synaxis_core.dialects.anthropic.request import (
    DIALECT,
    anthropic_error_shape,
    count_tokens,
    error_body,
    translate_request,
)

__all__ = ["DIALECT", "StreamTranslator", "anthropic_error_shape", "count_tokens", "error_body", "to_message", "translate_request"]
