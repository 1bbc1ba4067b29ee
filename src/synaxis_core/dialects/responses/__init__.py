"""The OpenAI Responses dialect (``POST /v1/responses``): a pure translator, no I/O.

- ``to_chat_request(body, ...)``: a Responses request (a decoded JSON object) becomes the
  pipeline's ``ChatRequest`` (``dialect="responses"``) and a ``ResponseShell``: what the
  answer echoes of the request, and how to name what comes back;
- ``StreamTranslator(shell)``: internal ``chat.completion.chunk`` dicts in, Responses
  events ``(name, data)`` out (``sequence_number`` on each), then ``finish()`` (or
  ``fail(message)`` when the upstream stream broke); ``final`` is the Response object;
- ``to_response(completion, shell)``: a whole chat completion as a Response object,
  through the same translator fed one chunk, so a streamed and a non-streamed answer
  cannot come out different.

Synaxis keeps no responses: ``store`` is treated as false, and what needs a stored
response (``previous_response_id``, ``conversation``, ``prompt``, background mode, item
references) is a 400. Tools that only OpenAI's servers run (web search, file search...)
are dropped and named in ``ResponseShell.dropped_tools``; other non-function tool kinds
are a 400.

``request.py`` holds the request side and ``ResponseShell``; ``answer.py`` the answer
and the stream.
"""

from synaxis_core.dialects.responses.answer import StreamTranslator, to_response, usage
from synaxis_core.dialects.responses.request import ResponseShell, to_chat_request

__all__ = ["ResponseShell", "StreamTranslator", "to_chat_request", "to_response", "usage"]
