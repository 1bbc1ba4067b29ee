"""Meta-tests: every hook is documented and every hook has a test named after it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from synaxis_core import hookspecs

HOOKS = [
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "synaxis_spec")
]


def test_the_register_hooks_exist():
    assert sorted(HOOKS) == [
        "register_catalogs",
        "register_fake_flavors",
        "register_observers",
        "register_postprocessors",
        "register_providers",
        "register_scorers",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_docstring_with_its_parameters(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc.splitlines()) >= 3, f"{hook} needs a real docstring"
    for param in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {param}:" in doc, f"{hook}'s docstring does not describe {param!r}"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test_named_after_it(hook):
    tests = Path(__file__).parent
    names = set()
    for path in tests.glob("test_*.py"):
        names.update(re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(), re.M))
    assert any(name.startswith(f"test_{hook}") for name in names), f"no test named test_{hook}*"


def test_hookspecs_module_holds_only_markers_and_hooks():
    public = {n for n in vars(hookspecs) if not n.startswith("_")}
    allowed = set(HOOKS) | {"hookspec", "hookimpl", "pluggy", "annotations", "TYPE_CHECKING", "Callable"}
    assert public <= allowed, public - allowed
