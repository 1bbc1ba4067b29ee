"""``synaxis plugin new``: a complete, installable plugin package from templates.

``render(name, kind, directory)`` writes ``directory/synaxis-NAME/``: a ``pyproject.toml``
with the entry point (group ``synaxis``) and a pytest setup, a README, the module
(``src/synaxis_NAME/``) and tests that subclass the test kit's conformance suites where
one exists (providers against their own fake-upstream flavour, scorers with hypothesis).
It passes its own tests right after ``pip install -e``.

The templates are files in ``templates/`` (``common/`` for every kind, then one folder per
kind; ``package/`` stands for ``src/synaxis_NAME/``, ``NAME`` in a file name for the
plugin's name) with ``string.Template`` placeholders (``$name``, ``$module``, ``${cls}``...).
They end in ``.tmpl``, so nothing imports, collects or checks them as code here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates"
KINDS = ("provider", "scorer", "postprocessor", "catalog")
NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

_TEST_REQUIRES = {"scorer": ("hypothesis>=6.100",)}
_DESCRIPTIONS = {
    "provider": "{title} provider for Synaxis",
    "scorer": "{title} routing scorer for Synaxis",
    "postprocessor": "{title} output post-processor for Synaxis",
    "catalog": "{title} model catalog for Synaxis",
}
_EDIT_NOTES = {
    "provider": "- `src/{module}/provider.py`: the base URL and the vendor's quirks (class attributes, or\n"
    "  overrides of `normalize_response` / `normalize_chunk` / `normalize_error` / `parse_model_entry`).\n"
    "- `src/{module}/models.py`: the deployments (`{const}_MODELS`).\n"
    "- `src/{module}/fake_flavor.py`: the vendor's wire format, as the fake upstream imitates it:\n"
    "  the conformance tests run the provider against it.\n"
    "- Set `{const}_API_KEY` (and `{const}_BASE_URL` to point it elsewhere) to use it.",
    "scorer": "- `src/{module}/__init__.py`: `score(request, candidate)`, pure, in [0, 1], higher is better;\n"
    "  its `weight` against the built-ins'.\n- `tests/`: `improve` makes a candidate strictly better in what it measures.",
    "postprocessor": "- `src/{module}/__init__.py`: `process_message` (a whole answer) and the `StreamProcessor`\n"
    "  (each delta, then `flush`): both must give the same result.",
    "catalog": "- `src/{module}/__init__.py`: `fetch(client, state)` returns the models and prices\n"
    "  (`CatalogData`); never raise on one bad entry, fall back to a snapshot when unreachable.",
}


class ScaffoldError(ValueError):
    """The plugin cannot be written (a bad name or kind, a directory in the way)."""


@dataclass(frozen=True)
class Scaffold:
    """What ``render`` wrote."""

    name: str
    kind: str
    distribution: str
    module: str
    root: Path
    files: tuple[Path, ...]
    """Relative to ``root``, in the order written."""


def placeholders(name: str, kind: str) -> dict[str, str]:
    """The template values for plugin ``name`` (``acme-ai``: module ``synaxis_acme_ai``,
    class prefix ``AcmeAi``, variables ``ACME_AI_...``)."""
    words = re.split(r"[-_]", name)
    values = {
        "name": name,
        "module": "synaxis_" + "_".join(words),
        "dist": "synaxis-" + "-".join(words),
        "cls": "".join(word.capitalize() for word in words),
        "const": "_".join(words).upper(),
        "title": " ".join(word.capitalize() for word in words),
        "kind": kind,
    }
    values["description"] = _DESCRIPTIONS[kind].format(**values)
    values["edit_notes"] = _EDIT_NOTES[kind].format(**values)
    requires = ("pytest>=8.2", "pytest-asyncio>=0.24", *_TEST_REQUIRES.get(kind, ()))
    values["test_requires"] = ", ".join(f'"{r}"' for r in requires)
    return values


def _target(relative: str, values: dict[str, str]) -> str:
    relative = relative.removesuffix(".tmpl").replace("NAME", "_".join(re.split(r"[-_]", values["name"])))
    if relative.startswith("package/"):
        relative = f"src/{values['module']}/" + relative.removeprefix("package/")
    return ".gitignore" if relative == "gitignore" else relative


def render(name: str, kind: str = "provider", directory: str | Path = ".") -> Scaffold:
    """Write the plugin ``name`` of ``kind`` into ``directory/synaxis-NAME/``.

    :raises ScaffoldError: ``name`` is not lowercase letters and digits (``-`` or ``_``
        between words), ``kind`` is unknown, or the target exists and is not empty.
    """
    if not NAME.match(name):
        raise ScaffoldError(f"a plugin name is lowercase letters and digits, words joined by '-' or '_': not {name!r}")
    if kind not in KINDS:
        raise ScaffoldError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    values = placeholders(name, kind)
    root = Path(directory) / values["dist"]
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ScaffoldError(f"{root} already exists and is not empty")
    written = []
    for folder in (TEMPLATES / "common", TEMPLATES / kind):
        for template in sorted(folder.rglob("*.tmpl")):
            relative = Path(_target(template.relative_to(folder).as_posix(), values))
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(Template(template.read_text()).substitute(values))
            written.append(relative)
    return Scaffold(name, kind, values["dist"], values["module"], root, tuple(written))
