"""Deployments from SYNAXIS_CONFIG: the parser, its error messages and the built-in plugin."""

from __future__ import annotations

import textwrap

import pytest

from synaxis_core.errors import ConfigError, PluginError
from synaxis_core.plugins import collect_extensions, get_plugin_manager
from synaxis_core.providers.base import OpenAICompatibleProvider
from synaxis_core.providers.config_file import load_config_providers
from synaxis_core.settings import Settings
from synaxis_core.types import ModelSpec

GOOD = """\
# two deployments
[[providers]]
name = "local-vllm"
base_url = "http://127.0.0.1:8000/v1/"
api_key_env = "LOCAL_VLLM_KEY"
timeout_s = 30

[[providers.models]]
id = "llama-3.3-70b-local"
upstream_id = "meta-llama/Llama-3.3-70B-Instruct"
global_id = "llama-3.3-70b"
input_price = 0
output_price = 0.5
rpm = 600

[[providers.models]]
id = "qwen-local"
upstream_id = "Qwen/Qwen3-8B"
context_window = 32768
reasoning = true

[[providers]]
name = "ollama"
base_url = "http://127.0.0.1:11434/v1"

[[providers.models]]
id = "gemma-ollama"
upstream_id = "gemma3:4b"
"""


def write(tmp_path, text: str):
    path = tmp_path / "synaxis.toml"
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path, text: str, environ: dict | None = None):
    path = write(tmp_path, text)
    return load_config_providers(Settings.from_env({"SYNAXIS_CONFIG": str(path), **(environ or {})}))


def test_good_file(tmp_path):
    vllm, ollama = load(tmp_path, GOOD, {"LOCAL_VLLM_KEY": "k"})
    assert isinstance(vllm, OpenAICompatibleProvider)
    assert (vllm.name, vllm.base_url, vllm.api_key_env, vllm.timeout_s) == (
        "local-vllm", "http://127.0.0.1:8000/v1", "LOCAL_VLLM_KEY", 30.0)
    assert vllm.api_key.get_secret_value() == "k" and vllm.missing_key is None
    assert vllm.models == (
        ModelSpec(id="llama-3.3-70b-local", upstream_id="meta-llama/Llama-3.3-70B-Instruct",
                  global_id="llama-3.3-70b", input_price=0.0, output_price=0.5, rpm=600),
        ModelSpec(id="qwen-local", upstream_id="Qwen/Qwen3-8B", context_window=32768, reasoning=True),
    )
    assert ollama.api_key_env is None and ollama.missing_key is None
    assert ollama.timeout_s == Settings().timeout_s


def test_missing_key_variable_is_reported(tmp_path):
    vllm, _ = load(tmp_path, GOOD)
    assert vllm.missing_key == "LOCAL_VLLM_KEY"


def test_no_config_means_no_providers():
    assert load_config_providers(Settings.from_env({})) == []


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config_providers(Settings.from_env({"SYNAXIS_CONFIG": str(tmp_path / "nope.toml")}))
    assert "nope.toml" in str(info.value)


BROKEN = [
    # (description, file text, expected line, expected text in the message)
    ("syntax", '[[providers]]\nname = "a"\nbase_url = \n', 3, "invalid TOML"),
    ("missing base_url", '[[providers]]\nname = "a"\n\n[[providers.models]]\nid = "m"\nupstream_id = "u"\n',
     1, "providers[0]: missing required key 'base_url'"),
    ("missing upstream_id", GOOD.replace('upstream_id = "Qwen/Qwen3-8B"\n', ""),
     16, "providers[0].models[1]: missing required key 'upstream_id'"),
    ("unknown key", GOOD.replace("rpm = 600", "rmp = 600"), 14, "providers[0].models[0].rmp: unknown key 'rmp'"),
    ("wrong type", GOOD.replace("timeout_s = 30", 'timeout_s = "30"'), 6,
     "providers[0].timeout_s: key 'timeout_s' must be"),
    ("bad url", GOOD.replace("http://127.0.0.1:11434/v1", "127.0.0.1:11434"), 24, "providers[1].base_url"),
    ("negative price", GOOD.replace("output_price = 0.5", "output_price = -1"), 13, "output_price"),
    ("bool is not an int", GOOD.replace("rpm = 600", "rpm = true"), 14, "rpm"),
    ("duplicate name", GOOD.replace('name = "ollama"', 'name = "local-vllm"'), 23,
     "duplicate provider name 'local-vllm'"),
    ("duplicate id", GOOD.replace('id = "gemma-ollama"', 'id = "qwen-local"'), 27, "duplicate model id 'qwen-local'"),
    ("no models", '[[providers]]\nname = "a"\nbase_url = "http://h/v1"\nmodels = []\n', 4, "providers[0].models"),
    ("typo in table name", '[[provider]]\nname = "a"\n', 1, "unknown key 'provider'"),
    ("top-level key", 'debug = true\n', 1, "unknown key 'debug'"),
    ("providers not a list", 'providers = "x"\n', 1, "array of tables"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_errors_name_file_line_and_key(tmp_path, text, line, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config_providers(Settings.from_env({"SYNAXIS_CONFIG": str(path)}))
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message


def test_builtin_plugin_registers_the_file(tmp_path):
    path = write(tmp_path, GOOD)
    settings = Settings.from_env({"SYNAXIS_CONFIG": str(path)})
    ext = collect_extensions(get_plugin_manager(None, installed=False), settings)
    assert {"local-vllm", "ollama"} <= set(ext.providers)
    assert ext.owners["provider:local-vllm"] == "synaxis_core.default_plugins.config_file"
    assert ext.models["gemma-ollama"][0] is ext.providers["ollama"]


def test_malformed_file_stops_startup(tmp_path):
    path = write(tmp_path, GOOD.replace("timeout_s = 30", "timeout_s = -1"))
    with pytest.raises(ConfigError, match=r"synaxis.toml:6: providers\[0\].timeout_s"):
        collect_extensions(get_plugin_manager(None, installed=False), Settings.from_env({"SYNAXIS_CONFIG": str(path)}))


def test_a_name_taken_by_a_plugin_is_a_plugin_error(tmp_path):
    from synaxis_core import hookimpl

    class Plugin:
        @hookimpl
        def register_providers(self, register, settings):
            register(OpenAICompatibleProvider(settings, name="ollama", base_url="http://x/v1", models=[]))

    path = write(tmp_path, GOOD)
    settings = Settings.from_env({"SYNAXIS_CONFIG": str(path)})
    with pytest.raises(PluginError, match="ollama"):
        collect_extensions(get_plugin_manager(None, installed=False, extra=[Plugin()]), settings)


def test_reasoning_deployments_get_the_think_tag_stripper(tmp_path):
    from synaxis_core.postprocess.base import PostProcessContext
    from synaxis_core.postprocess.pipeline import process_response, select

    path = write(tmp_path, GOOD)
    settings = Settings.from_env({"SYNAXIS_CONFIG": str(path)})
    ext = collect_extensions(get_plugin_manager("", installed=False), settings)
    qwen = ext.models["qwen-local"][1]
    gemma = ext.models["gemma-ollama"][1]
    assert [p.name for p in select(ext.postprocessors, qwen, "local-vllm")] == ["think-tags-config"]
    assert [p.name for p in select(ext.postprocessors, gemma, "ollama")] == []
    response = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "<think>hmm</think>Hi"}}]}
    message = process_response(select(ext.postprocessors, qwen, "local-vllm"), response, PostProcessContext(model=qwen))["choices"][0]["message"]
    assert message["content"] == "Hi" and message["reasoning_content"] == "hmm"


QWEN_THINKING = """\
[[providers]]
name = "local-vllm"
base_url = "{base_url}"
api_key_env = "LOCAL_VLLM_KEY"

[[providers.models]]
id = "qwen3-thinking-local"
upstream_id = "Qwen/Qwen3-30B-A3B-Thinking-2507"
reasoning = true
"""


async def test_a_reasoning_deployment_whose_template_opens_the_block_keeps_no_closing_tag(tmp_path, sqlite_url):
    """Qwen3 Thinking on vLLM, declared in the config file: its answers start inside the
    reasoning block (``reasoning</think>answer``); neither the message nor the stream
    may keep a dangling ``</think>``."""
    import json

    from synaxis_core.fake import Behavior, FakeUpstream
    from synaxis_core.fake.behavior import DEFAULT_ANSWER
    from synaxis_core.testing.gateway import gateway_harness

    reasoning = "The home side scored twice in each of its last games, so two goals."
    async with FakeUpstream(flavors=()) as fake:
        answer = Behavior(kind="think_close_only", reasoning=reasoning, content="\n\n" + DEFAULT_ANSWER)
        fake.set("Qwen/Qwen3-30B-A3B-Thinking-2507", answer)
        path = write(tmp_path, QWEN_THINKING.format(base_url=fake.base_url("openai")))
        environ = {"SYNAXIS_CONFIG": str(path), "LOCAL_VLLM_KEY": "vllm-key"}
        async with gateway_harness(fake, database_url=sqlite_url, providers=(), environ=environ) as h:
            body = {"model": "qwen3-thinking-local", "messages": [{"role": "user", "content": "Predict the match."}]}
            reply = await h.client.post("/v1/chat/completions", json=body, headers=h.auth())
            streamed = await h.client.post("/v1/chat/completions", json={**body, "stream": True}, headers=h.auth())
    assert reply.status_code == 200, reply.text
    message = reply.json()["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == (DEFAULT_ANSWER, reasoning)
    assert streamed.status_code == 200, streamed.text
    deltas = [
        choice["delta"]
        for line in streamed.text.splitlines()
        if line.startswith("data: {")
        for choice in json.loads(line[len("data: "):])["choices"]
    ]
    assert "".join(d.get("content") or "" for d in deltas) == DEFAULT_ANSWER
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == reasoning
