"""`BackgroundServer`: run an aiohttp application in a thread, in the current loop, or
in the foreground.

The base of `FakeUpstream`; a subclass provides `make_app` and `banner`::

    server.start() ... server.stop()        # background thread with its own event loop
    with server: ...                        # the same
    async with server: ...                  # inside the running event loop
    server.serve_forever()                  # foreground, Ctrl-C stops it
"""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import TypeVar

from aiohttp import web

S = TypeVar("S", bound="BackgroundServer")

SHUTDOWN_TIMEOUT_S = 0.5
"""How long stopping waits for requests in progress before cancelling them."""


class BackgroundServer:
    """Lifecycle of one aiohttp server bound to ``host:port`` (port 0: a free one)."""

    def __init__(self, port: int = 0, *, host: str = "127.0.0.1") -> None:
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def make_app(self) -> web.Application:
        """The application to serve (subclasses override)."""
        raise NotImplementedError

    def banner(self) -> list[str]:
        """Lines `serve_forever` prints once listening."""
        return [self.url]

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (only while running)."""
        if self._bound_port is None:
            raise RuntimeError(f"{type(self).__name__} is not running; call start() or use `with`")
        return f"http://{self._host}:{self._bound_port}"

    async def astart(self: S) -> S:
        """Start serving inside the running event loop."""
        if self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        # handler_cancellation: a request whose client went away (a timed-out stall)
        # stops at once instead of sleeping on.
        runner = web.AppRunner(
            self.make_app(),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port, backlog=1024).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._bound_port = runner, runner.addresses[0][1]
        return self

    async def astop(self) -> None:
        """Stop serving (idempotent); requests still running are cancelled after
        `SHUTDOWN_TIMEOUT_S`."""
        runner, self._runner, self._bound_port = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    def start(self: S) -> S:
        """Start serving from a background thread with its own event loop."""
        if self._thread is not None or self._runner is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=_run_loop, args=(loop,), name="fake-upstream", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.astart(), loop).result(timeout=10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            raise
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop the background thread started by `start` (idempotent)."""
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.astop(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    def serve_forever(self) -> None:
        """Serve in the foreground, print `banner`, and return on Ctrl-C or SIGTERM, after
        printing ``stopped`` once the server is closed."""

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):  # before the banner: a signal
                loop.add_signal_handler(signum, stop.set)  # sent once it is read is handled
            await self.astart()
            for line in self.banner():
                print(line, flush=True)
            try:
                await stop.wait()
            finally:
                await self.astop()
            print("stopped", flush=True)

        asyncio.run(main())

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self: S) -> S:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Body of the background thread: run the loop, then cancel leftovers and close it."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
