"""``synaxis fake-upstream``: a loopback-only test server."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner

from synaxis_core.cli import cli
from synaxis_core.cli.fake_upstream import is_loopback


def test_help():
    done = CliRunner().invoke(cli, ["fake-upstream", "--help"])
    assert done.exit_code == 0
    assert "--host" in done.output and "--port" in done.output and "--api-key" in done.output


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_a_non_loopback_host_is_refused_in_one_line(host):
    done = CliRunner().invoke(cli, ["fake-upstream", "--host", host])
    assert done.exit_code == 1
    assert done.stderr.count("\n") == 1 and f"refusing to listen on {host}" in done.stderr


def test_loopback_hosts():
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"]))


def test_it_serves_until_stopped():
    command = [sys.executable, "-c", "from synaxis_core.cli import main; main()"]
    command += ["fake-upstream", "--port", "0", "--api-key", "k"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline().split()
        assert first[0] == "openai" and first[1].startswith("http://127.0.0.1:")
        base = first[1].rsplit("/openai/v1", 1)[0]
        refused = httpx.get(f"{base}/synthetic/v1/models", headers={"authorization": "Bearer wrong"})
        listed = httpx.get(f"{base}/synthetic/v1/models", headers={"authorization": "Bearer k"})
        assert refused.status_code == 401 and listed.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
