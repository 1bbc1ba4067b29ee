"""``synaxis serve`` raises its open-file limit to the hard limit at start-up.

Each open stream holds two file descriptors in the gateway (the client's connection and
the upstream's), and a shell's usual soft limit is 1,024: without the raise, the gateway
would refuse connections long before the machine runs out of anything. A real
``synaxis serve`` is started with a lowered soft limit (``setrlimit`` in the child before
it runs); its log says what it did in one line, ``/proc/<pid>/limits`` shows the new
limit, and it serves more connections at once than the soft limit it was started with.
"""

from __future__ import annotations

import resource
import socket
import subprocess
from pathlib import Path

import pytest

from synaxis_core.testing.server_process import CLI, clean_environ, free_port
from synaxis_core.testing.waiting import wait_until_sync

LOWERED = 256
CONNECTIONS = 400
"""More connections held open at once than the lowered limit allows descriptors."""


def start_serve(tmp_path: Path, soft: int) -> tuple[subprocess.Popen[bytes], int, Path]:
    port, log = free_port(), tmp_path / "serve.log"
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    environ = clean_environ({"SYNAXIS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'synaxis.db'}"})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(port)], env=environ, stdout=out,
            stderr=subprocess.STDOUT, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)),
        )
    return proc, port, log


def open_files_limit(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-file limit in /proc")


def health_on_many_connections(port: int, n: int) -> list[bytes]:
    """``GET /health`` on ``n`` connections held open at once: each status line."""
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(n)]
    try:
        for s in sockets:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        return [s.recv(64).split(b"\r\n", 1)[0] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.skipif(resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 2 * CONNECTIONS,
                    reason="the hard open-file limit here is too low to show the raise")
@pytest.mark.parametrize("lowered", [True, False], ids=["soft-below-hard", "already-at-hard"])
def test_serve_raises_its_open_file_limit_and_says_so(tmp_path, lowered):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    proc, port, log = start_serve(tmp_path, LOWERED if lowered else hard)
    try:
        text = lambda: log.read_text(errors="replace")  # noqa: E731
        # uvicorn says "running on" once the socket listens ("startup complete" comes before the bind)
        wait_until_sync(lambda: "Uvicorn running on" in text() or proc.poll() is not None,
                        timeout=120, what="synaxis serve listening")
        assert proc.poll() is None, text()
        expected = f"open-file limit raised from {LOWERED} to {hard}" if lowered else \
            f"open-file limit already at its hard limit ({hard})"
        assert [line for line in text().splitlines() if "open-file limit" in line][0].endswith(expected)
        assert open_files_limit(proc.pid) == (hard, hard)
        if lowered:
            assert health_on_many_connections(port, CONNECTIONS) == [b"HTTP/1.1 200 OK"] * CONNECTIONS
    finally:
        proc.terminate()
        proc.wait(30)
