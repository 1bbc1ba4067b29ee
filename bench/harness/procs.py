"""Process probes and lifecycle: CPU time and memory from /proc, ports, start and stop."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (from /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time so far of each thread of ``pid``, summed by thread name (``synaxis``,
    ``pyreqwest``: the HTTP client's Rust runtime, ...)."""
    by_name: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        by_name[name] = by_name.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICKS
    return by_name


def cpu_busy(cpu: str) -> float:
    """Seconds one CPU spent running processes (user, nice, system; from /proc/stat).

    Interrupt time is left out: loopback traffic of the load generator lands there."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            values = [int(v) for v in line.split()[1:]]
            return (values[0] + values[1] + values[2]) / TICKS
    raise KeyError(cpu)


class Contention:
    """How much of each CPU other processes (the rest of the machine) used during a run.

    CPU ``under``: its busy time less the process under test's; CPU ``load``: its busy
    time less the load side's (``load_pids``, e.g. nginx, plus our finished children:
    wrk). The harness itself runs on CPU ``load`` too and counts as other there.
    """

    def __init__(self, target: int, load_pids: list[int], under: str, load: str) -> None:
        self.target, self.load_pids, self.cpus = target, load_pids, (under, load)
        self.start = self._sample()

    def _sample(self) -> tuple[float, ...]:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (time.monotonic(), cpu_busy(self.cpus[0]), cpu_busy(self.cpus[1]), cpu_seconds(self.target),
                sum(cpu_seconds(p) for p in self.load_pids) + children.ru_utime + children.ru_stime)

    def percent(self) -> tuple[float, float]:
        wall, under, load, own, load_own = (b - a for a, b in zip(self.start, self._sample()))
        return max(0.0, (under - own) / wall * 100), max(0.0, (load - load_own) / wall * 100)


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of ``pid``, in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e6
    raise KeyError(field)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def pin(pid: int, cpus: str) -> None:
    """Move a running process (all its threads) to ``cpus``."""
    subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(pid)], check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, proc: subprocess.Popen, timeout_s: float = 60.0, path: str = "/") -> None:
    """Wait until something answers HTTP on ``port`` (any status), or fail."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process {proc.args!r} exited with status {proc.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if s.recv(16).startswith(b"HTTP/1."):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port} within {timeout_s:g} s")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 15.0) -> None:
    """Stop one process started by the harness (by its own pid)."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def raise_open_files(needed: int = 0) -> str:
    """Raise this process's open-file limit (soft) to its hard limit, and the hard limit
    to ``needed`` when it is lower and we may (root); children inherit both. The log line."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new_hard = hard
    if hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, needed))
            new_hard = needed
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (new_hard, new_hard))
    line = f"open-file limit raised from {soft} to {new_hard}" if new_hard != soft else \
        f"open-file limit already at its hard limit ({soft})"
    if new_hard != hard:
        line += f" (hard limit raised from {hard})"
    if new_hard < needed:
        line += (f"; the hard limit stays below the {needed} this run needs (raising it takes root with "
                 "CAP_SYS_RESOURCE): a target that runs out of descriptors refuses streams")
    return line
