"""The manual builds with ``mkdocs build --strict``, offline, and its generated pages are complete.

One strict build per test run (into a temporary directory, never ``site/``): a broken link
or anchor, a page missing from the navigation, or a generated section that cannot be made
(a setting without a description, say: ``docs/hooks.py``) fails it. The pages made from the
code are then checked against the code: every setting, every command, every hook.

Without MkDocs (the ``docs`` extra) these tests skip with the reason; under ``CI=true``
they fail instead: CI must build the manual.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import click
import pytest

from synaxis_core import hookspecs
from synaxis_core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BUILD_TIMEOUT_S = 300  # a safety cap for a loaded 2-core runner; the build takes seconds


def _require_mkdocs() -> None:
    missing = [name for name in ("mkdocs", "material") if importlib.util.find_spec(name) is None]
    if missing:
        reason = (
            f"{' and '.join(missing)} not installed: install the docs extra "
            f"(.venv/bin/pip install -e '.[docs]', which `make test`'s setup does)"
        )
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true the manual must be built")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The manual built with --strict into a temporary directory."""
    _require_mkdocs()
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


def page_text(site: Path, page: str) -> str:
    """The text of a built page (tags removed, entities decoded)."""
    html = (site / page / "index.html").read_text()
    return unescape(re.sub(r"<[^>]+>", "", html))


def test_the_manual_builds_strict(site):
    assert (site / "index.html").is_file()
    assert (site / "search" / "search_index.json").is_file()


def test_the_manual_loads_nothing_from_outside(site):
    """Offline: no web fonts, no script, style or image from another host."""
    for path in site.rglob("*.html"):
        html = path.read_text()
        assert "fonts.googleapis" not in html and "fonts.gstatic" not in html, path
        external = re.findall(r'<(?:script|link|img)\b[^>]*(?:src|href)="(?:https?:)?//[^"]+"', html)
        assert not external, f"{path.relative_to(site)} loads {external}"


def test_every_setting_is_in_the_configuration_reference(site):
    text = page_text(site, "reference/configuration")
    for name in Settings.model_fields:
        assert f"SYNAXIS_{name.upper()}" in text, f"SYNAXIS_{name.upper()} is not in the configuration reference"
    assert "(not documented yet)" not in text


def test_the_plugins_variables_are_in_the_configuration_reference(site):
    from synaxis_core.plugins import load_extensions

    text = page_text(site, "reference/configuration")
    for provider in load_extensions(Settings.from_env({})).providers.values():
        for variable in (provider.api_key_env, provider.base_url_env):
            if variable:
                assert variable in text, f"{provider.name}'s {variable} is not in the configuration reference"
    if importlib.util.find_spec("synaxis_synthetic") is not None:
        assert "SYNAXIS_LANGUAGE_MONITOR_MODELS" in text


def _commands(command: click.Command, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


def test_every_command_and_option_is_in_the_cli_reference(site):
    from synaxis_core.cli import cli

    text = page_text(site, "reference/cli")
    for path, command in _commands(cli, ("synaxis",)):
        assert " ".join(path) in text, f"`{' '.join(path)}` is not in the CLI reference"
        for param in command.params:
            for option in getattr(param, "opts", []):
                if option.startswith("-"):
                    assert option in text, f"`{' '.join(path)} {option}` is not in the CLI reference"


def test_every_hook_is_described_from_its_specification(site):
    for name, function in vars(hookspecs).items():
        if inspect.isfunction(function) and hasattr(function, "synaxis_spec"):
            page = name.removeprefix("register_").replace("_", "-")
            text = page_text(site, f"plugins/{page}")
            summary = " ".join((inspect.getdoc(function) or "").split("\n\n")[0].split())
            assert summary.replace("``", "") in " ".join(text.split()), f"plugins/{page} lacks {name}'s docstring"


def _docs_hooks():
    """``docs/hooks.py``, the MkDocs hook that writes the generated sections."""
    spec = importlib.util.spec_from_file_location("synaxis_docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_setting_without_a_description_fails_the_strict_build(tmp_path, monkeypatch, caplog):
    """A warning from ``docs/hooks.py`` is what makes ``mkdocs build --strict`` fail."""
    import synaxis_core.settings

    source = tmp_path / "more_settings.py"
    source.write_text(
        "from synaxis_core.settings import Settings\n\n\n"
        "class Settings(Settings):\n"
        "    documented_knob: int = 1\n"
        '    """Says what it does."""\n'
        "    undocumented_knob: int = 7\n"
    )
    spec = importlib.util.spec_from_file_location("more_settings", source)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "more_settings", module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(synaxis_core.settings, "Settings", module.Settings)

    with caplog.at_level("WARNING", logger="mkdocs.hooks.synaxis"):
        table = _docs_hooks().settings_reference()
    assert "`SYNAXIS_UNDOCUMENTED_KNOB`" in table and "Says what it does." in table
    assert [r.getMessage() for r in caplog.records] == [
        "setting 'undocumented_knob' has no description: give it an attribute docstring in settings.py"
    ]
