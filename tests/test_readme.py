"""The README's examples work as written, and its links lead to files that exist."""

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


LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings (lower case, punctuation but
    ``-`` and ``_`` dropped, spaces as ``-``; a repeated heading gets ``-1``, ``-2``...)."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", FENCE.sub("", markdown), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(f"{slug}-{count}" if count else slug)
    return anchors


def broken_links(readme: Path) -> list[str]:
    """Every relative link of a Markdown file (outside code blocks) whose file does not
    exist, or whose ``#anchor`` names no heading of the Markdown file it points to."""
    broken = []
    for target in LINK.findall(FENCE.sub("", readme.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not a file of the repository
            continue
        path, _, anchor = target.partition("#")
        file = (readme.parent / path).resolve() if path else readme
        if not file.exists():
            broken.append(f"{target}: no file {path}")
        elif anchor and file.suffix == ".md" and anchor not in github_anchors(file.read_text()):
            broken.append(f"{target}: no heading #{anchor} in {path or readme.name}")
    return broken


def test_every_relative_link_in_the_readme_points_to_an_existing_file():
    links = LINK.findall(FENCE.sub("", README.read_text()))
    assert any(link.startswith("docs/") for link in links), "the README links to the manual's pages"
    assert broken_links(README) == []


def test_a_broken_link_is_found(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n\n## Its section\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Top\n\n[ok](docs/page.md) [ok](docs/page.md#its-section) [ok](#top) [web](https://example.org/x)\n"
        "[gone](docs/gone.md) [bad anchor](docs/page.md#nothing)\n\n```md\n[in code](docs/ignored.md)\n```\n"
    )
    assert broken_links(readme) == ["docs/gone.md: no file docs/gone.md", "docs/page.md#nothing: no heading #nothing in docs/page.md"]


def test_the_readme_is_a_quick_start_that_points_to_the_manual():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    assert "make test" in text and "make serve" in text and "make docs" in text
