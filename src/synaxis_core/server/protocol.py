"""uvicorn's HTTP protocol with a bound on the time a client takes to send its request.

uvicorn closes a keep-alive connection that stays idle between requests
(``timeout_keep_alive``) but sets no limit on how long a client may take to send a
request's headers or its body: a client that sends one byte a second ("slowloris") keeps
its connection, and everything the gateway holds for it, for as long as it likes.
``bounded_protocol`` returns uvicorn's httptools protocol with two deadlines:

* the headers: from the connection's opening (first request) or the first byte of the
  request (the next ones on a kept-alive connection) to the end of its headers;
* the body: from the end of the headers to the end of the body.

A client that misses one gets ``408 Request Timeout`` and its connection is closed; one
that opened a connection and sent nothing is closed without a word; when the previous
request's response on the connection is still to be sent (pipelining), it is sent first
and the connection closed after it. Time during which the server itself has stopped
reading (a pipelined request waiting for the one before it; 64 KiB of body that the
application has not read yet) is not counted against the client: the deadline is put
off, and a pipelined request gets its whole time once the one before it is answered.

The timers are on the slow path only: a request whose headers and body come in one read
(nearly all of them) starts none; a deadline is armed (``loop.call_later``) when a read
ends in the middle of a request, plus one per connection for its first request. Measured
(interleaved A/B of the protocol alone, uvloop): +0.3 to 0.8 µs of CPU per request on the
fast path (the overridden callbacks), +1.5 to 2.7 µs when a timer is armed and cancelled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("synaxis.server")

_IDLE, _HEADERS, _BODY = 0, 1, 2
"""What the connection waits for from the client: nothing (between requests, or while a
response is made: the keep-alive timeout's business), the headers, the rest of the body."""


def _error_response(status_line: bytes, message: str, code: str) -> bytes:
    """A complete HTTP response with an OpenAI-shaped error body, closing the connection
    (written by the protocol itself: the request never reached the app)."""
    body = json.dumps(
        {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}},
        separators=(",", ":"),
    ).encode()
    return b"".join((
        status_line,
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n\r\n",
        body,
    ))


def _timeout_response(what: str, seconds: float) -> bytes:
    return _error_response(
        b"HTTP/1.1 408 Request Timeout\r\n", f"The request {what} did not arrive within {seconds:g} s", "request_timeout"
    )


_MALFORMED = _error_response(
    b"HTTP/1.1 400 Bad Request\r\n",
    "The request is not valid HTTP/1.1 (for example both Content-Length and Transfer-Encoding, "
    "or a malformed header)", "invalid_http_request",
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the two deadlines of the module docstring (use
    ``bounded_protocol`` to set them)."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    _header_408: bytes = _timeout_response("headers", header_timeout_s)
    _body_408: bytes = _timeout_response("body", body_timeout_s)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = _IDLE
        self._deadline: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._phase = _HEADERS  # a connection that sends nothing is a request that never comes
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = _IDLE
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        HttpToolsProtocol.data_received(self, data)
        # the read ended in the middle of a request: start its clock (unless it runs already)
        if self._phase and self._deadline is None and not self.transport.is_closing():
            self._arm()

    # httptools callbacks

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._phase = _HEADERS

    def on_headers_complete(self) -> None:
        self._phase = _BODY
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        HttpToolsProtocol.on_headers_complete(self)

    def on_message_complete(self) -> None:
        self._phase = _IDLE
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        HttpToolsProtocol.on_message_complete(self)

    def on_response_complete(self) -> None:
        queued = bool(self.pipeline)
        HttpToolsProtocol.on_response_complete(self)
        if queued and self._deadline is not None:
            # the request that waited behind this response gets its whole time from now on
            self._deadline.cancel()
            self._arm()

    # the deadlines

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request its parser refuses, in the OpenAI error shape
        (uvicorn's own is plain text)."""
        self.transport.write(_MALFORMED)
        self.transport.close()

    def _arm(self) -> None:
        delay = self.header_timeout_s if self._phase == _HEADERS else self.body_timeout_s
        self._deadline = self.loop.call_later(delay, self._expired)

    def _expired(self) -> None:
        self._deadline = None
        if not self._phase or self.transport.is_closing():
            return
        if self.flow.read_paused or self.pipeline:
            # the server is not reading, or the request waits for the one before it: the wait
            # is not the client's
            self._arm()
            return
        headers = self._phase == _HEADERS
        self._phase = _IDLE
        cycle = self.cycle  # in the headers phase: the previous request on this connection
        log.debug("%s: the request %s did not arrive in time", self.client, "headers" if headers else "body")
        if headers:
            if cycle is not None and not cycle.response_complete:
                # the previous request's response is still to come: send it, then close
                cycle.keep_alive = False
                self.transport.pause_reading()
                return
            if self.scope is not None:  # not for a connection that never sent a byte
                self.transport.write(self._header_408)
        else:
            if cycle is None or not cycle.response_started:
                self.transport.write(self._body_408)
            if cycle is not None and not cycle.response_complete:
                # the application waits for the body: it sees the client gone (as in connection_lost)
                cycle.disconnected = True
                cycle.message_event.set()
        self._close()

    def _close(self) -> None:
        if self.transport.get_write_buffer_size():  # a client that does not read either
            self.transport.abort()
        else:
            self.transport.close()


def bounded_protocol(header_timeout_s: float, body_timeout_s: float) -> type[BoundedHttpToolsProtocol]:
    """The protocol class to pass as ``http=`` to ``uvicorn.Config`` / ``uvicorn.run``."""
    if header_timeout_s <= 0 or body_timeout_s <= 0:
        raise ValueError("the header and body timeouts must be positive")
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {
            "header_timeout_s": header_timeout_s,
            "body_timeout_s": body_timeout_s,
            "_header_408": _timeout_response("headers", header_timeout_s),
            "_body_408": _timeout_response("body", body_timeout_s),
        },
    )
