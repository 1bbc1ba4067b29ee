"""The README's examples work as written."""

from __future__ import annotations

import re
import types
from pathlib import Path

from sqlalchemy import select

from synaxis_core.db.engine import create_engine, session_factory
from synaxis_core.db.migrate import upgrade
from synaxis_core.db.models import ProviderModel
from synaxis_core.sync.providers import sync_providers
from synaxis_core.testing.plugin_manager import make_extensions, make_settings

README = Path(__file__).parents[1] / "README.md"


def readme_plugin() -> types.ModuleType:
    text = README.read_text()
    section = text.split("## Write a plugin in 20 lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 20
    module = types.ModuleType("synaxis_acme")
    exec(compile(code, "README.md", "exec"), module.__dict__)
    return module


async def test_the_readme_plugin_registers_and_syncs(sqlite_url):
    plugin = readme_plugin()
    settings = make_settings({"ACME_API_KEY": "k", "ACME_BASE_URL": "http://127.0.0.1:9/v1"})
    ext = make_extensions(plugin, settings=settings)
    provider = ext.providers["acme"]
    assert provider.base_url == "http://127.0.0.1:9/v1" and provider.api_key.get_secret_value() == "k"

    engine = create_engine(sqlite_url)
    await upgrade(engine)
    report = await sync_providers(session_factory(engine), ext)
    async with session_factory(engine)() as session:
        row = (await session.scalars(select(ProviderModel))).one()
    await engine.dispose()
    assert report.added == 1
    assert (row.id, row.provider, row.global_model_id, row.active) == ("llama-3.3-70b-acme", "acme", "llama-3.3-70b", True)


async def test_the_readme_plugin_answers_a_chat_call():
    from synaxis_core.fake import FakeUpstream

    async with FakeUpstream() as fake:
        settings = make_settings({"ACME_API_KEY": "k", "ACME_BASE_URL": fake.base_url("openai")})
        ext = make_extensions(readme_plugin(), settings=settings)
        provider = ext.providers["acme"]
        try:
            reply = await provider.chat(
                {"model": "meta-llama/Llama-3.3-70B-Instruct", "messages": [{"role": "user", "content": "Hi"}]}
            )
        finally:
            await ext.aclose()
    assert reply["choices"][0]["message"]["content"]
    assert fake.calls["meta-llama/Llama-3.3-70B-Instruct"] == 1
