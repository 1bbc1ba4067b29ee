"""Meta-tests, in the style of datasette's: every hook is documented in the manual with an
example, and that example runs through the plugin manager.

For each hook in ``synaxis_core.hookspecs``:

1. a page of ``docs/plugins/`` has a ``## register_...`` section for it;
2. the section has an example: the fenced Python block after a ``<!-- example -->`` line;
3. the example, exec'd as a module and registered with
   ``get_plugin_manager(installed=False, extra=[module])``, implements the hook, and
   ``collect_extensions`` finds what it contributes in ``Extensions`` — owned by it;
4. what it contributes works (a provider answers a chat call from the fake upstream, a
   catalog returns data without the network, a post-processor gives the same answer
   streamed and not, a scorer scores in [0, 1], a flavour is served by the fake, an
   observer takes a finished request through the gateway's dispatcher).

And the manual's page on how hooks are called (``docs/plugins/index.md``) stays true: the
return value is ignored, ``tryfirst`` orders the calls, a hook wrapper's body never runs.
"""

from __future__ import annotations

import inspect
import re
import shutil
import types
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx
import pytest

from synaxis_core import hookimpl, hookspecs
from synaxis_core.plugins import Extensions, collect_extensions, get_plugin_manager
from synaxis_core.settings import Settings

PLUGIN_PAGES = Path(__file__).resolve().parents[1] / "docs" / "plugins"

HOOKS = [
    name
    for name, function in vars(hookspecs).items()
    if inspect.isfunction(function) and hasattr(function, "synaxis_spec")
]

_HEADING = re.compile(r"^## +`?(register_\w+)`?(?: *\{#register_\w+\})? *$", re.M)
_ANY_H2 = re.compile(r"^## ", re.M)
_EXAMPLE = re.compile(r"^<!-- example -->\n```python(?P<info>[^\n]*)\n(?P<code>.*?)^```", re.M | re.S)


def hook_sections(pages: Path = PLUGIN_PAGES) -> dict[str, tuple[Path, str]]:
    """Hook name -> (page, the text of its ``## register_...`` section)."""
    found: dict[str, tuple[Path, str]] = {}
    for page in sorted(pages.glob("*.md")):
        text = page.read_text()
        for match in _HEADING.finditer(text):
            following = _ANY_H2.search(text, match.end())
            body = text[match.end(): following.start() if following else len(text)]
            assert match.group(1) not in found, f"{match.group(1)} has two sections: {found[match.group(1)][0].name}, {page.name}"
            found[match.group(1)] = (page, body)
    return found


def missing_hooks(pages: Path = PLUGIN_PAGES) -> list[str]:
    """The hooks no plugin page has a section for."""
    sections = hook_sections(pages)
    return [hook for hook in HOOKS if hook not in sections]


def example_module(hook: str, pages: Path = PLUGIN_PAGES) -> types.ModuleType:
    """The example of ``hook``'s section, exec'd as a module named after its title
    (``title="synaxis_acme.py"`` -> ``synaxis_acme``)."""
    page, body = hook_sections(pages)[hook]
    examples = list(_EXAMPLE.finditer(body))
    assert len(examples) == 1, f"{page.name}: the {hook} section needs one example (a ```python block after <!-- example -->), found {len(examples)}"
    title = re.search(r'title="([\w.]+)\.py"', examples[0].group("info"))
    module = types.ModuleType(title.group(1) if title else f"docs_example_{hook}")
    module.__file__ = str(page)
    exec(compile(examples[0].group("code"), f"{page}:{hook}", "exec"), module.__dict__)
    return module


def _names(contributions: Any) -> set[str]:
    if isinstance(contributions, dict):
        return set(contributions)
    return {item.name for item in contributions}


def contributions(hook: str, module: types.ModuleType, settings: Settings) -> tuple[Extensions, list[Any]]:
    """Register ``module`` with the plugin manager (no installed plugins), collect the
    extensions, and return them with what ``module`` contributed through ``hook``."""
    pm = get_plugin_manager(installed=False, extra=[module])
    implemented = {caller.name for caller in pm.get_hookcallers(module) or []}
    assert hook in implemented, f"the {hook} example does not implement {hook} (it implements {sorted(implemented)})"
    ext = collect_extensions(pm, settings)
    baseline = collect_extensions(get_plugin_manager(installed=False), settings)
    attribute = hook.removeprefix("register_")
    assert hasattr(ext, attribute), f"Extensions has no {attribute!r} for {hook}: name the page's check after it"
    collected = getattr(ext, attribute)
    new = _names(collected) - _names(getattr(baseline, attribute))
    assert new, f"the {hook} example registered nothing that ends up in Extensions.{attribute}"
    owned = {key.split(":", 1)[1] for key, owner in ext.owners.items() if owner == module.__name__}
    assert new <= owned, f"Extensions.{attribute} has {sorted(new - owned)} from another plugin than the example"
    items = collected if isinstance(collected, list) else list(collected.values())
    return ext, [item for item in items if item.name in new]


# --- 1. and 2.: every hook has its section and its example -------------------------------


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_the_plugin_pages(hook):
    assert hook not in missing_hooks(), f"no page in docs/plugins/ has a '## {hook}' section"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_section_has_its_specification_and_an_example(hook):
    page, body = hook_sections()[hook]
    assert f"<!-- generated: hookspec {hook} -->" in body, f"{page.name}: the {hook} section should show its hookspec"
    assert len(_EXAMPLE.findall(body)) == 1, f"{page.name}: the {hook} section needs exactly one <!-- example -->"


# --- 3. and 4.: every example runs through the plugin manager, and works ------------------


async def _check_providers(module: types.ModuleType, providers: list[Any]) -> None:
    from synaxis_core.testing import FakeUpstream

    async with FakeUpstream() as fake:
        environ = {}
        for provider in providers:
            assert provider.models, f"provider {provider.name!r} lists no models"
            assert provider.base_url_env, f"provider {provider.name!r} has no base_url_env to point it at a fake"
            environ[provider.base_url_env] = fake.base_url("openai")
            if provider.api_key_env:
                environ[provider.api_key_env] = "test-key"
        # the plugin again, with the settings that point it at the fake: as a test would
        ext = collect_extensions(get_plugin_manager(installed=False, extra=[module]), Settings.from_env(environ))
        try:
            for provider in providers:
                pointed = ext.providers[provider.name]
                spec = pointed.models[0]
                reply = await pointed.chat({"model": spec.upstream_id, "messages": [{"role": "user", "content": "Hi"}]})
                assert reply["choices"][0]["message"]["content"]
                assert fake.calls[spec.upstream_id] == 1
        finally:
            await ext.aclose()


async def _check_catalogs(module: types.ModuleType, catalogs: list[Any]) -> None:
    from synaxis_core.types import CatalogData

    def no_network(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"the example tried to reach {request.url}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(no_network)) as client:
        for catalog in catalogs:
            data = await catalog.fetch(client, None)
            assert isinstance(data, CatalogData) and data.models, f"catalog {catalog.name!r} returned {data!r}"


async def _check_postprocessors(module: types.ModuleType, postprocessors: list[Any]) -> None:
    from synaxis_core.postprocess.base import PostProcessContext
    from synaxis_core.types import ModelSpec

    spec = ModelSpec(id="m-acme", upstream_id="acme/m")
    text = "Arsenal\u200b 2, Chelsea\u2060 1. <b>Final</b> answer."
    for processor in postprocessors:
        assert processor.applies_to(spec) in (True, False)
        whole = processor.process_message({"role": "assistant", "content": text}, PostProcessContext(model=spec))
        state = processor.stream_state(PostProcessContext(model=spec))
        streamed = "".join(state.feed(0, {"content": text[i:i + 3]}).get("content", "") for i in range(0, len(text), 3))
        streamed += state.flush().get(0, {}).get("content", "")
        assert streamed == whole["content"], f"{processor.name!r}: streamed {streamed!r}, whole {whole['content']!r}"


async def _check_scorers(module: types.ModuleType, scorers: list[Any]) -> None:
    from synaxis_core.routing.scoring import Candidate, RouteRequest

    request = RouteRequest(model="gpt-oss-120b", estimated_input_tokens=1000)
    candidates = [
        Candidate(id="free", provider="a", upstream_id="m", input_price=0.0, output_price=0.0),
        Candidate(id="paid", provider="b", upstream_id="m", input_price=0.2, output_price=0.6, p95_latency_ms=500.0),
        Candidate(id="unknown", provider="c", upstream_id="m"),
    ]
    for scorer in scorers:
        for candidate in candidates:
            score = scorer.score(request, candidate)
            assert 0.0 <= score <= 1.0, f"{scorer.name!r} scored {candidate.id!r} {score}"


async def _check_fake_flavors(module: types.ModuleType, flavors: list[Any]) -> None:
    from synaxis_core.testing import FakeUpstream

    async with FakeUpstream(flavors=flavors, api_key="k") as fake:
        async with httpx.AsyncClient(headers={"authorization": "Bearer k"}) as client:
            for flavor in flavors:
                model = (flavor.model_id_prefixes[0] if flavor.model_id_prefixes else "") + "model-1"
                fake.add_model(flavor.name, model)
                listing = await client.get(f"{fake.base_url(flavor.name)}/models")
                assert listing.status_code == 200 and model in listing.text
                reply = await client.post(
                    f"{fake.base_url(flavor.name)}/chat/completions",
                    json={"model": model, "messages": [{"role": "user", "content": "Hi"}]},
                )
                assert reply.status_code == 200, reply.text
                assert reply.json()["choices"][0]["finish_reason"] == flavor.finish_reason


async def _check_observers(module: types.ModuleType, observers: list[Any]) -> None:
    from synaxis_core.ledger.writer import UsageEntry
    from synaxis_core.runtime.accounting import RequestRecord
    from synaxis_core.runtime.observers import ObserverDispatcher
    from synaxis_core.tenants import TenantInfo

    dispatcher = ObserverDispatcher(observers, flush_interval_s=0.01, timeout_s=5)
    dispatcher.start()
    record = RequestRecord(request_id="r1", tenant=TenantInfo(id=1, name="test"), requested_model="m",
                           estimated_prompt_tokens=5, stream=False)
    entry = UsageEntry(request_id="r1", tenant_id=1, provider_model_id="m-acme", latency_ms=90_000.0)
    dispatcher.submit(entry, record)
    await dispatcher.aclose()
    for lane in dispatcher.lanes:
        assert (lane.delivered, lane.failed) == (1, 0), f"observer {lane.name!r} did not take a record cleanly"


CHECKS: dict[str, Callable[[types.ModuleType, list[Any]], Awaitable[None]]] = {
    "register_providers": _check_providers,
    "register_catalogs": _check_catalogs,
    "register_postprocessors": _check_postprocessors,
    "register_scorers": _check_scorers,
    "register_fake_flavors": _check_fake_flavors,
    "register_observers": _check_observers,
}


@pytest.mark.parametrize("hook", HOOKS)
async def test_every_hook_example_runs_through_the_plugin_manager(hook):
    if hook not in hook_sections():
        pytest.fail(f"no page in docs/plugins/ has a '## {hook}' section")
    module = example_module(hook)
    ext, contributed = contributions(hook, module, Settings.from_env({}))
    try:
        check = CHECKS.get(hook)
        if check is not None:
            await check(module, contributed)
    finally:
        await ext.aclose()


# --- the meta-tests can fail ------------------------------------------------------------


def _copy_pages(tmp_path: Path) -> Path:
    pages = tmp_path / "plugins"
    shutil.copytree(PLUGIN_PAGES, pages)
    return pages


def test_a_page_without_its_hook_heading_fails_the_check(tmp_path):
    pages = _copy_pages(tmp_path)
    page = pages / "scorers.md"
    page.write_text(page.read_text().replace("## register_scorers\n", "## Scorers\n"))
    assert missing_hooks(pages) == ["register_scorers"]
    assert missing_hooks(PLUGIN_PAGES) == []


def test_an_example_that_registers_nothing_fails_the_check(tmp_path):
    pages = _copy_pages(tmp_path)
    page = pages / "scorers.md"
    page.write_text(page.read_text().replace("    register(PreferFreeScorer())", "    pass"))
    with pytest.raises(AssertionError, match="registered nothing"):
        contributions("register_scorers", example_module("register_scorers", pages), Settings.from_env({}))


def test_an_example_of_another_hook_fails_the_check(tmp_path):
    pages = _copy_pages(tmp_path)
    page = pages / "scorers.md"
    page.write_text(page.read_text().replace("def register_scorers(register, settings):", "def register_catalogs(register, settings):"))
    with pytest.raises(AssertionError, match="does not implement register_scorers"):
        contributions("register_scorers", example_module("register_scorers", pages), Settings.from_env({}))


def test_a_section_without_an_example_fails_the_check(tmp_path):
    pages = _copy_pages(tmp_path)
    page = pages / "catalogs.md"
    page.write_text(page.read_text().replace("<!-- example -->\n", ""))
    with pytest.raises(AssertionError, match="needs one example"):
        example_module("register_catalogs", pages)


# --- how the core calls the hooks, as docs/plugins/index.md says ----------------------


def test_hooks_are_called_as_the_manual_says():
    from synaxis_core.routing.scoring import Candidate, RouteRequest

    calls: list[str] = []

    class Scorer:
        weight = 1.0

        def __init__(self, name: str) -> None:
            self.name = name

        def score(self, request: RouteRequest, candidate: Candidate) -> float:
            return 0.5

    class ReturnsInstead:
        @hookimpl
        def register_scorers(self, register):  # `register` alone is enough
            calls.append("returns")
            return Scorer("returned-not-registered")  # ignored: only register() counts

    class First:
        @hookimpl(tryfirst=True)
        def register_scorers(self, settings, register):  # any order of the arguments
            calls.append("first")
            register(Scorer("first"))

    class Wrapper:
        @hookimpl(hookwrapper=True)
        def register_scorers(self, register, settings):
            calls.append("wrapper body")  # never runs
            register(Scorer("from-a-wrapper"))
            yield

    class Last:
        @hookimpl
        def register_scorers(self, register, settings):
            calls.append("registered last")
            register(Scorer("last"))

    pm = get_plugin_manager(installed=False, extra=[ReturnsInstead(), First(), Wrapper(), Last()])
    ext = collect_extensions(pm, Settings.from_env({}))
    assert calls == ["first", "registered last", "returns"]
    assert {"first", "last"} <= set(ext.scorers)
    assert "returned-not-registered" not in ext.scorers and "from-a-wrapper" not in ext.scorers
    assert list(ext.scorers)[-4:] == ["cost", "tier", "latency", "health"]  # the built-ins are called last
    text = (PLUGIN_PAGES / "index.md").read_text()
    for claim in ("The return value is ignored", "a wrapper's body never runs", "`tryfirst`", "the built-ins last"):
        assert claim in text, f"docs/plugins/index.md no longer says {claim!r}: keep this test and the page together"
