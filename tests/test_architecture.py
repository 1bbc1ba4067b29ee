"""The import rules of ARCHITECTURE.md, checked on the code itself.

Every module of ``synaxis_core`` is parsed (nothing is imported or run) and each of its
imports, at the top or inside a function, under ``TYPE_CHECKING`` or not, is held
against the rules of its room.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "src" / "synaxis_core"
PLUGINS = ("synaxis_synthetic", "synaxis_together", "synaxis_nvidia", "synaxis_modelsdev", "synaxis_jsonl")

RULES: list[tuple[str, tuple[str, ...], str]] = [
    # (room: a module path prefix under synaxis_core, forbidden import prefixes, why)
    ("routing", ("synaxis_core.db", "synaxis_core.plugins", "synaxis_core.server", "synaxis_core.runtime",
                 "sqlalchemy"), "routing decides in memory over what it is given"),
    ("server", ("sqlalchemy", "synaxis_core.db", "synaxis_core.testing"),
     "the HTTP edge writes no SQL and never imports the test kit"),
    ("providers", ("sqlalchemy", "synaxis_core.db", "synaxis_core.ledger", "synaxis_core.runtime"),
     "providers do not persist"),
    ("postprocess", ("sqlalchemy", "synaxis_core.db", "synaxis_core.ledger", "synaxis_core.runtime"),
     "post-processors do not persist"),
    ("types", ("sqlalchemy", "redis", "synaxis_core.db"), "types know no storage"),
    ("settings", ("sqlalchemy", "redis", "synaxis_core.db"), "settings know no storage"),
    ("errors", ("sqlalchemy", "redis", "synaxis_core.db"), "errors know no storage"),
    ("runtime", ("litestar", "uvicorn", "starlette", "synaxis_core.server", "synaxis_core.testing"),
     "the runtime knows no HTTP framework"),
    ("dialects", ("synaxis_core.server", "synaxis_core.runtime", "synaxis_core.db", "sqlalchemy", "litestar",
                  "httpx", "pyreqwest"), "dialects are pure translators: no I/O"),
    ("console", ("sqlalchemy", "synaxis_core.db", "synaxis_core.testing"),
     "the console is part of the HTTP edge: it writes no SQL"),
    ("cache", ("sqlalchemy", "synaxis_core.db", "synaxis_core.runtime", "synaxis_core.routing",
               "synaxis_core.server", "synaxis_core.plugins"), "the cache keeps answers; the pipeline decides"),
    ("telemetry", ("sqlalchemy", "redis", "synaxis_core.db", "synaxis_core.runtime", "synaxis_core.routing",
                   "synaxis_core.server", "synaxis_core.plugins"), "telemetry records what it is handed"),
    ("", PLUGINS, "the core never imports a plugin"),
    ("", ("synaxis_core.testing",), "production code never imports the test kit"),
]


def _room(path: Path) -> str:
    return ".".join(path.relative_to(CORE).with_suffix("").parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every imported module name with its line (relative imports resolved)."""
    module = _room(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(["synaxis_core", *base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def _applies(room: str, module: str) -> bool:
    if room == "" and (module == "testing" or module.startswith("testing.")):
        return False  # the test kit itself may use the plugins and itself
    return room == "" or module == room or module.startswith(room + ".")


def violations() -> list[str]:
    broken = []
    for path in sorted(CORE.rglob("*.py")):
        module = _room(path)
        if "migrations" in path.parts:
            continue
        for line, name in _imports(path):
            for room, forbidden, why in RULES:
                if not _applies(room, module):
                    continue
                for prefix in forbidden:
                    if name == prefix or name.startswith(prefix + "."):
                        broken.append(f"{path.relative_to(CORE.parent)}:{line} imports {name} ({why})")
    return broken


def test_the_import_rules_hold() -> None:
    assert violations() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from sqlalchemy import update\n", "imports sqlalchemy"),
        ("from synaxis_core.testing import FakeUpstream\n", "imports synaxis_core.testing"),
    ],
)
def test_a_broken_rule_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: str) -> None:
    """The checker itself finds a rule broken (so the test above can fail)."""
    fake_core = tmp_path / "src" / "synaxis_core"
    (fake_core / "server").mkdir(parents=True)
    (fake_core / "server" / "bad.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "CORE", fake_core)
    assert any(expected in v for v in violations())
