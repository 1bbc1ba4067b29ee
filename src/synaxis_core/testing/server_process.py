"""Run ``synaxis serve`` as a real process on a free loopback port, for end-to-end tests.

    gateway = GatewayProcess({"SYNAXIS_DATABASE_URL": url, ...}, log_path=tmp_path / "a.log").start()
    try:
        await gateway.wait_ready()                 # GET /health answers 200
        httpx.get(gateway.url + "/v1/models", ...)
    finally:
        gateway.stop()                             # SIGTERM: uvicorn's graceful shutdown

The process gets a clean environment: the caller's ``SYNAXIS_*`` and provider variables
(the key and base-URL variables of the installed providers) are dropped, so a developer's
real keys never reach a test gateway, and ``environ`` is added. Its output (stdout and
stderr) goes to ``log_path``, which error messages quote.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from synaxis_core.testing.gateway import provider_variables

CLI = (sys.executable, "-c", "from synaxis_core.cli import main; main()")
"""The ``synaxis`` command of this interpreter (no reliance on ``PATH``)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_environ(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without Synaxis or provider settings, plus ``environ``."""
    dropped = provider_variables()
    kept = {k: v for k, v in os.environ.items() if not k.startswith("SYNAXIS_") and k not in dropped}
    return {**kept, **(environ or {})}


def run_cli(args: Sequence[str], environ: Mapping[str, str], timeout_s: float = 60.0) -> str:
    """Run ``synaxis ARGS`` in a subprocess; its stdout, or AssertionError with its output."""
    done = subprocess.run(
        [*CLI, *args], env=clean_environ(environ), capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"synaxis {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


class GatewayProcess:
    """One ``synaxis serve`` process on ``127.0.0.1:port`` (see the module docstring)."""

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        port: int | None = None,
        log_path: Path | None = None,
        args: Sequence[str] = ("--no-demo",),
    ) -> None:
        self.port = port or free_port()
        self.environ = clean_environ(environ)
        self.args = list(args)
        if log_path is None:
            handle, name = tempfile.mkstemp(prefix="synaxis-serve-", suffix=".log")
            os.close(handle)
            log_path = Path(name)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayProcess:
        command = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.args]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, env=self.environ, stdout=log, stderr=subprocess.STDOUT)
        return self

    def log(self, tail: int = 40) -> str:
        """The last ``tail`` lines of the process's output."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-tail:])

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until ``GET /health`` answers 200; AssertionError (with the log) otherwise."""
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"synaxis serve exited with {self.process.returncode}:\n{self.log()}")
                try:
                    if (await client.get(self.url + "/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError(f"synaxis serve on port {self.port} not ready within {timeout_s:g}s:\n{self.log()}")

    def terminate(self) -> None:
        """Send SIGTERM (uvicorn: stop accepting, finish in-flight requests, run the lifespan shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float = 30.0) -> int:
        """Wait for the exit; kill the process if it takes longer. Returns the exit status."""
        assert self.process is not None
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"synaxis serve did not stop within {timeout_s:g}s:\n{self.log()}") from None

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM, then wait (killed after ``timeout_s``). Returns the exit status."""
        if self.process is None:
            return 0
        self.terminate()
        return self.wait(timeout_s)
