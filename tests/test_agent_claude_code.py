"""Claude Code, the real CLI, headless against Synaxis's ``/v1/messages`` (fake upstream behind).

The CLI comes from npm (``tests/agents/package.json``, installed by ``make test``). It
runs with a throw-away ``HOME``, telemetry, error reporting and update checks off, and
every proxy variable pointing at a closed local port, so it can reach nothing but the
gateway on 127.0.0.1. Without the binary the tests skip, except under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from synaxis_core.fake import Behavior, FakeUpstream
from synaxis_core.testing.gateway import gateway_harness
from synaxis_core.testing.live_server import live_server

CLAUDE = Path(__file__).parent / "agents" / "node_modules" / ".bin" / "claude"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MODEL, UPSTREAM = "glm-4.6-syn", "hf:zai-org/GLM-4.6"
SMALL_MODEL = "kimi-k2.5-syn"
"""Claude Code's "small, fast" model (haiku): another deployment, so that any side call
it makes does not take the main model's scripted answers."""
RUN_TIMEOUT_S = 180
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture
def claude() -> Path:
    if not CLAUDE.exists():
        message = f"Claude Code is not installed at {CLAUDE} (run `npm install` in tests/agents, or `make test`)"
        if IN_CI:
            pytest.fail(f"{message}; under CI=true this must not be skipped")
        pytest.skip(message)
    return CLAUDE


@pytest.fixture
async def gw(sqlite_url):
    with FakeUpstream() as fake:
        async with gateway_harness(fake, database_url=sqlite_url) as h, live_server(h.app) as url:
            yield h, url


def environment(home: Path, base_url: str, credentials: dict[str, str]) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": base_url,
        **credentials,
        "ANTHROPIC_SMALL_FAST_MODEL": SMALL_MODEL,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": SMALL_MODEL,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "HTTPS_PROXY": NOWHERE, "HTTP_PROXY": NOWHERE, "https_proxy": NOWHERE, "http_proxy": NOWHERE,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    }


async def run_claude(binary: Path, env: dict[str, str], cwd: Path, prompt: str, *options: str) -> dict:
    """``claude -p PROMPT --output-format json ...``: the JSON result it printed."""
    command = [str(binary), "-p", prompt, "--output-format", "json", "--model", MODEL, *options]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, f"claude exited {process.returncode}: {out.decode()[-2000:]} {err.decode()[-2000:]}"
    return json.loads(out)


async def test_a_plain_prompt_is_answered(claude, gw, tmp_path):
    h, url = gw
    env = environment(tmp_path, url, {"ANTHROPIC_AUTH_TOKEN": h.key})  # sent as Authorization: Bearer
    result = await run_claude(claude, env, tmp_path, "Predict Arsenal v Chelsea.")
    assert result["type"] == "result" and result["is_error"] is False and result["subtype"] == "success"
    assert result["result"] == '{"home_goals": 2, "away_goals": 1, "confidence": 0.64}'
    assert result["usage"]["input_tokens"] > 0 and result["usage"]["output_tokens"] > 0
    calls = [r.body for r in h.fake.requests if r.body and r.body.get("model") == UPSTREAM]
    assert len(calls) == 1 and calls[0]["stream"] is True
    assert "Predict Arsenal v Chelsea." in json.dumps(calls[0]["messages"])


async def test_a_tool_round_trip_runs_the_tool_and_answers(claude, gw, tmp_path):
    h, url = gw
    h.fake.set(UPSTREAM, [
        Behavior(kind="tool_call", content='{"command": "echo synaxis", "description": "Print synaxis"}'),
        Behavior(content="The command printed synaxis."),
    ])
    env = environment(tmp_path, url, {"ANTHROPIC_API_KEY": h.key})  # sent as x-api-key
    result = await run_claude(claude, env, tmp_path, "Run `echo synaxis`.", "--tools", "Bash", "--allowedTools", "Bash")
    assert result["is_error"] is False and result["num_turns"] == 2
    assert result["result"] == "The command printed synaxis."
    first, second = [r.body for r in h.fake.requests if r.body and r.body.get("model") == UPSTREAM]
    assert [t["function"]["name"] for t in first["tools"]] == ["Bash"]  # the fake calls the first tool
    call = second["messages"][-2]["tool_calls"][0]
    assert call["function"]["name"] == "Bash" and json.loads(call["function"]["arguments"])["command"] == "echo synaxis"
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": call["id"], "content": "synaxis"}
