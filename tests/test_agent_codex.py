"""Codex CLI (``codex exec``, headless) end to end against Synaxis's ``/v1/responses``.

The gateway runs on a loopback port with the fake upstream behind it; codex gets a temp
``CODEX_HOME`` whose ``config.toml`` points its model provider at the gateway
(``wire_api = "responses"``) with analytics, feedback, OpenTelemetry export, update
checks and the plugin marketplace off (``--strict-config`` proves codex knows each key),
and a proxy that refuses and records anything bound elsewhere: the tests check that it
reaches only the gateway.

codex comes from npm (``tests/agents/package.json``, installed by ``make test``); without
it these tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.live_server import live_server

CODEX = Path(__file__).parent / "agents" / "node_modules" / ".bin" / "codex"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MODEL, UPSTREAM = "gpt-oss-120b-nvidia", "openai/gpt-oss-120b"
SHELL_TOOL = "exec_command"
"""codex's shell tool: ``{"cmd": "..."}``, its first tool (the fake calls the first tool)."""
TIMEOUT_S = 120

CONFIG = """\
model = "{model}"
model_provider = "synaxis"
check_for_update_on_startup = false
web_search = "disabled"

[model_providers.synaxis]
name = "Synaxis"
base_url = "{base_url}/v1"
env_key = "SYNAXIS_TEST_KEY"
wire_api = "responses"

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"

[history]
persistence = "none"

[features]
plugins = false  # else the curated plugin marketplace is synced from GitHub and chatgpt.com at start-up
remote_plugin = false
plugin_sharing = false
"""


@pytest.fixture
def codex() -> Path:
    if not os.access(CODEX, os.X_OK):
        message = f"codex CLI not installed at {CODEX} (run `npm install` in tests/agents, or `make test`)"
        if IN_CI:
            pytest.fail(f"{message}; under CI=true this must not be skipped")
        pytest.skip(message)
    return CODEX


@pytest.fixture
async def gateway(sqlite_url):
    with FakeUpstream() as fake:
        async with gateway_harness(fake, database_url=sqlite_url) as h, live_server(h.app) as base_url:
            yield h, base_url


@pytest.fixture
async def proxy():
    """A proxy that lets nothing through and records what tried to leave: (URL, attempts)."""
    attempts: list[str] = []

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempts.append((await reader.readline()).decode(errors="replace").strip())
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", attempts


async def run_codex(
    codex: Path, base_url: str, key: str, home: Path, prompt: str, proxy: str, model: str = MODEL
) -> tuple[int, str, str]:
    """``codex exec PROMPT`` in ``home``, every host but the gateway sent to ``proxy``:
    (exit status, stdout, stderr)."""
    codex_home, work = home / "codex-home", home / "work"
    codex_home.mkdir()
    work.mkdir()
    (codex_home / "config.toml").write_text(CONFIG.format(model=model, base_url=base_url))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "CODEX_HOME": str(codex_home),
        "SYNAXIS_TEST_KEY": key, "LANG": "C.UTF-8",
        "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "ALL_PROXY": proxy, "NO_PROXY": "127.0.0.1,localhost",
    }
    command = [str(codex), "exec", "--strict-config", "--skip-git-repo-check", "--ephemeral", "--color", "never",
               "--dangerously-bypass-approvals-and-sandbox", "-C", str(work), prompt]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=work, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
    except TimeoutError:
        process.kill()
        stdout, stderr = await process.communicate()
        pytest.fail(f"codex did not finish in {TIMEOUT_S} s: {stderr.decode(errors='replace')[-3000:]}")
    return process.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")


def chat_calls(h) -> list[dict]:
    return [r.body for r in h.fake.requests if r.path.endswith("/chat/completions") and r.body]


async def test_codex_answers_a_plain_prompt(codex, gateway, proxy, tmp_path):
    h, base_url = gateway
    h.fake.set(UPSTREAM, Behavior(kind="ok", content="Hello from Synaxis."))
    status, stdout, stderr = await run_codex(codex, base_url, h.key, tmp_path, "Say hello", proxy[0])
    assert status == 0, stderr[-3000:]
    assert proxy[1] == []  # nothing but the gateway: no telemetry, no update check
    assert stdout.strip() == "Hello from Synaxis."
    (call,) = chat_calls(h)
    assert call["stream"] is True and call["messages"][-1] == {"role": "user", "content": "Say hello"}
    assert call["messages"][0]["role"] == "system"  # codex's developer instructions, merged into one


async def test_codex_runs_a_shell_tool_and_answers_with_its_output(codex, gateway, proxy, tmp_path):
    h, base_url = gateway
    h.fake.set(UPSTREAM, [Behavior(kind="tool_call", content='{"cmd": "echo synaxis-tool-ok"}'),
                          Behavior(kind="ok", content="The command printed synaxis-tool-ok.")])
    status, stdout, stderr = await run_codex(codex, base_url, h.key, tmp_path, "Run echo synaxis-tool-ok", proxy[0])
    assert status == 0, stderr[-3000:]
    assert proxy[1] == []
    assert stdout.strip() == "The command printed synaxis-tool-ok."
    first, second = chat_calls(h)
    assert first["tools"][0]["function"]["name"] == SHELL_TOOL  # what the fake's tool call names
    call = second["messages"][-2]["tool_calls"][0]
    assert call["function"] == {"name": SHELL_TOOL, "arguments": '{"cmd": "echo synaxis-tool-ok"}'}
    output = second["messages"][-1]
    assert output["role"] == "tool" and output["tool_call_id"] == call["id"]
    assert "synaxis-tool-ok" in output["content"]  # codex ran the command and sent back what it printed


async def test_codex_shows_the_reasoning_of_a_thinking_model(codex, gateway, proxy, tmp_path):
    h, base_url = gateway
    h.fake.set("hf:deepseek-ai/DeepSeek-R1-0528",
               Behavior(kind="think_inline", reasoning="Weighing the home form.", content="Home win."))
    status, stdout, stderr = await run_codex(codex, base_url, h.key, tmp_path, "Predict", proxy[0],
                                             model="deepseek-r1-0528-syn")
    assert status == 0, stderr[-3000:]
    assert stdout.strip() == "Home win."  # no <think> in the answer
    assert "Weighing the home form." in stderr  # the reasoning item reached codex (its progress log)
    assert proxy[1] == []
