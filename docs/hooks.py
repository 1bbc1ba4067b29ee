"""MkDocs hooks: the manual's generated sections, built from the code at every build.

A page asks for a generated section with a line of its own::

    <!-- generated: settings -->
    <!-- generated: hookspec register_providers -->

``on_page_markdown`` replaces each such line with Markdown made from the code as it is
now (the ``Settings`` class, the click command tree, the installed plugins, the hook
specifications, the fake upstream's data classes), so these pages cannot drift from the
code. Something the generators cannot document (a setting with no description, an
unknown generator) is logged as a warning: ``mkdocs build --strict`` (``make docs-build``,
``tests/test_docs.py``) fails on it, ``mkdocs serve`` shows the page anyway.

No network, no extra package: only the standard library, MkDocs and Synaxis itself.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import logging
import re
import textwrap
import tokenize
import types
import typing
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("mkdocs.hooks.synaxis")

MARKER = re.compile(r"^<!-- generated: ([a-z-]+)(?: (\S+))? -->[ \t]*$", re.M)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace every ``<!-- generated: NAME [ARG] -->`` line of a page."""

    def replace(match: re.Match[str]) -> str:
        name, arg = match.group(1), match.group(2)
        generator = GENERATORS.get(name)
        if generator is None:
            _warn(f"{page.file.src_uri}: unknown generated section {name!r} (known: {sorted(GENERATORS)})")
            return match.group(0)
        try:
            return generator(arg) if arg is not None else generator()  # type: ignore[call-arg]
        except Exception as exc:  # a broken generator fails the strict build, with the reason
            _warn(f"{page.file.src_uri}: generated section {name!r} failed: {type(exc).__name__}: {exc}")
            return f"!!! failure \"Generated section {name} failed\"\n    {exc}\n"

    return MARKER.sub(replace, markdown)


def _warn(message: str) -> None:
    log.warning(message)


# --- configuration: the Settings class ----------------------------------------------------

# Settings fields that have no attribute docstring in ``settings.py`` yet. The field's own
# docstring always wins; an entry here for a field that no longer exists, or a field with
# neither, is a warning (so a strict build fails). Facts as the manual states them.
SETTING_NOTES: dict[str, str] = {
    "database_url": "The registry, tenants and the ledger. Production: `postgresql+asyncpg://...`.",
    "redis_url": "Redis for shared counters, health and cool-downs, so that several instances act as one "
    "(unset: in each process).",
    "admin_key": "Bearer key for the `/admin` routes and the console's sign-in (unset: both are off; a "
    "tenant key gets 403 there).",
    "host": "Where `synaxis serve` listens (`--host` overrides it).",
    "port": "Where `synaxis serve` listens (`--port` overrides it).",
    "modelsdev_url": "The models.dev catalog that `synaxis sync catalog` fetches (the bundled snapshot "
    "when it is unreachable).",
    "connect_timeout_s": "Upstream connect timeout (never more than the attempt's timeout).",
    "max_connections": "Connections each provider's HTTP client keeps open to its upstream at most.",
    "max_body_bytes": "Request bodies above this get 413.",
    "reasoning_mode": "`separate` (reasoning moved into `reasoning_content`), `strip` (dropped) or `keep` "
    "(the output as the upstream sent it); the request header `x-synaxis-reasoning` picks one per request.",
    "failure_threshold": "Consecutive failures that disable a deployment.",
    "disable_cooldown_s": "How long a disabled deployment waits before the recovery probes start.",
    "retry_after_cap_s": "The longest cool-down an upstream's `Retry-After` can set.",
    "default_retry_after_s": "The cool-down of a 429 that carries no `Retry-After`.",
    "scorer_weights": "JSON object overriding scorer weights by name, e.g. `{\"latency\": 5000000}`.",
    "catalog_interval_s": "How often `synaxis sync --schedule` runs the catalogs.",
    "discover_interval_s": "How often `synaxis sync --schedule` runs discovery.",
    "ledger_batch_size": "The ledger writes when this many rows wait (or `SYNAXIS_LEDGER_FLUSH_INTERVAL_S` "
    "after the oldest); a flush takes the whole backlog (up to 20 batches).",
    "ledger_flush_interval_s": "The longest a ledger row waits in memory before it is written.",
    "ledger_queue_max": "Rows waiting in memory before requests wait for the ledger (back-pressure).",
}


# Where the manual says more about a setting: appended to its description as a link.
SETTING_PAGES: dict[str, tuple[str, str]] = {
    "config": ("Deployments from a file", "../deployments-file.md"),
    "redis_url": ("Running several instances", "../scaling.md"),
    "workers": ("Running several instances", "../scaling.md"),
    "ledger_durable": ("Reliability", "../reliability.md"),
    "ledger_full_wait_s": ("Reliability", "../reliability.md"),
    "budget_reservation_ttl_s": ("Reliability", "../reliability.md"),
    "header_timeout_s": ("Reliability", "../reliability.md"),
    "auth_max_failures": ("Reliability", "../reliability.md"),
    "failure_threshold": ("Routing and health", "../routing.md"),
    "scorer_weights": ("Routing and health", "../routing.md"),
    "catalog_interval_s": ("The model registry and sync", "../registry.md"),
    "load_plugins": ("Writing plugins", "../plugins/index.md#which-plugins-load"),
    "cache_backend": ("Response cache", "../cache.md#backends"),
    "cache_ttl_s": ("Response cache", "../cache.md#turning-it-on"),
    "otel_endpoint": ("OpenTelemetry traces", "../telemetry.md"),
    "otel_capture_content": ("OpenTelemetry traces", "../telemetry.md#message-contents"),
}


def _class_body_notes(cls: type) -> tuple[dict[str, str], dict[str, str]]:
    """``(docstrings, groups)`` of a class's annotated attributes, read from its source:
    the string literal right after an attribute, and the ``# comment`` heading the block
    the attribute is in."""
    source = Path(inspect.getsourcefile(cls) or "").read_text()
    tree = ast.parse(source)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    comments = {
        tok.start[0]: tok.string.lstrip("#").strip()
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT and tok.line.strip().startswith("#")
    }
    docs: dict[str, str] = {}
    groups: dict[str, str] = {}
    group = ""
    body = node.body
    for index, item in enumerate(body):
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
            continue
        previous_end = body[index - 1].end_lineno if index else node.lineno
        for line in range(previous_end + 1, item.lineno):  # a comment between the two starts a group
            if line in comments:
                group = comments[line]
        groups[item.target.id] = group
        following = body[index + 1] if index + 1 < len(body) else None
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[item.target.id] = inspect.cleandoc(following.value.value)
    return docs, groups


def _rst_to_md(text: str) -> str:
    """Docstring reST inline markup to Markdown: ````x```` -> ```x```, `` `x` `` kept."""
    return re.sub(r"``(.+?)``", r"`\1`", " ".join(text.split()))


def _type_name(annotation: Any) -> str:
    """A field's type in words: ``integer (≥ 1) or `auto```, ``one of `a`, `b```..."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, *extra = args
        limits = _constraints([m for e in extra for m in (getattr(e, "metadata", None) or [e])])
        return _type_name(base) + (f" ({limits})" if limits else "")
    if origin is typing.Literal:
        values = ", ".join(f"`{a}`" for a in args)
        return f"one of {values}" if len(args) > 1 else values
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if origin is dict:
        return "JSON object"
    if origin is list:
        return "JSON list"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in names:
        return names[annotation]
    name = getattr(annotation, "__name__", str(annotation))
    return {"SecretStr": "secret string", "Path": "path"}.get(name, name)


def _constraints(metadata: list[Any]) -> str:
    parts = []
    for item in metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def _default(name: str, field: Any) -> str:
    import json

    from pydantic_core import PydanticUndefined

    value = field.default_factory() if field.default_factory is not None else field.default
    if value is None or value is PydanticUndefined:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict | list):
        return f"`{json.dumps(value)}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if name.endswith("_bytes") and isinstance(value, int):
        for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
            if value >= size and value % size == 0:
                return f"`{value}` ({value // size} {unit})"
    return f"`{value}`"


def settings_reference() -> str:
    """Every ``Settings`` field as ``SYNAXIS_<FIELD>``: type, default, meaning; grouped as
    the source groups them."""
    from synaxis_core.settings import Settings

    docs, groups = {}, {}
    for klass in reversed(Settings.__mro__):  # a subclass's notes win over its bases'
        if set(vars(klass).get("__annotations__", {})) & set(Settings.model_fields):
            class_docs, class_groups = _class_body_notes(klass)
            docs.update(class_docs)
            groups.update(class_groups)
    for stale in sorted((set(SETTING_NOTES) | set(SETTING_PAGES)) - set(Settings.model_fields)):
        _warn(f"docs/hooks.py describes the setting {stale!r}, which Settings no longer has")
    prefix = Settings.model_config.get("env_prefix", "")
    out: list[str] = []
    current: str | None = None
    for name, field in Settings.model_fields.items():
        group = groups.get(name, "") or "general"
        if group != current:
            current = group
            out.append(f"\n### {group[:1].upper()}{group[1:]}\n")
            out.append("| variable | type | default | meaning |")
            out.append("| --- | --- | --- | --- |")
        meaning = docs.get(name) or SETTING_NOTES.get(name)
        if not meaning:
            _warn(f"setting {name!r} has no description: give it an attribute docstring in settings.py")
            meaning = "(not documented yet)"
        kind = _type_name(field.annotation)
        limits = _constraints(field.metadata)
        if limits:
            kind += f" ({limits})"
        variable = f"{prefix}{name}".upper()
        meaning = re.sub(  # a field named in a docstring (`redis_url`) is shown as its variable
            r"`(\w+)`",
            lambda m: f"`{prefix}{m.group(1)}`".upper() if m.group(1) in Settings.model_fields else m.group(0),
            _rst_to_md(meaning),
        )
        meaning = re.sub(r"\s*\(see the (?:README|manual)\)|;? see the (?:README|manual)", "", meaning)  # the link below says where
        cell = _escape_cell(meaning)
        if name in SETTING_PAGES:
            title, link = SETTING_PAGES[name]
            cell += f" See [{title}]({link})."
        out.append(f"| <a id=\"{variable.lower()}\"></a>`{variable}` | {kind} | {_default(name, field)} | {cell} |")
    return "\n".join(out) + "\n"


# --- the plugins' own variables -----------------------------------------------------------


def _installed_extensions() -> Any:
    from synaxis_core.plugins import load_extensions
    from synaxis_core.settings import Settings

    return load_extensions(Settings.from_env({}))


def provider_variables() -> str:
    """The key and base-URL variables of every installed plugin's provider."""
    ext = _installed_extensions()
    out = [
        "| provider | plugin | API key | base URL override | default base URL |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, provider in sorted(ext.providers.items()):
        key = f"`{provider.api_key_env}`" if provider.api_key_env else "none needed"
        url = f"`{provider.base_url_env}`" if provider.base_url_env else "—"
        plugin = ext.owners.get(f"provider:{name}", "?")
        out.append(f"| `{name}` | `{plugin}` | {key} | {url} | `{provider.default_base_url}` |")
    return "\n".join(out) + "\n"


def _plugin_modules() -> list[tuple[str, Path]]:
    """``(entry-point name, package directory)`` of every installed plugin."""
    from importlib.metadata import entry_points

    from synaxis_core.plugins import ENTRY_POINT_GROUP

    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        module = importlib.import_module(ep.value.split(":")[0])
        path = Path(inspect.getsourcefile(module) or "")
        found.append((ep.name, path.parent if path.name == "__init__.py" else path))
    return found


def plugin_settings() -> str:
    """``SYNAXIS_*`` variables a plugin reads on its own: a module-level string constant
    naming one that ``Settings`` does not define; documented by the string right after
    the constant, else by its module's docstring."""
    from synaxis_core.settings import Settings

    core = {f"SYNAXIS_{name.upper()}" for name in Settings.model_fields}
    rows = []
    for plugin, root in _plugin_modules():
        paths = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for path in paths:
            tree = ast.parse(path.read_text())
            for index, node in enumerate(tree.body):
                if (
                    isinstance(node, ast.Assign)
                    and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)
                    and re.fullmatch(r"SYNAXIS_[A-Z0-9_]+", node.value.value)
                    and node.value.value not in core
                ):
                    after = tree.body[index + 1] if index + 1 < len(tree.body) else None
                    own = after.value.value if (
                        isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                        and isinstance(after.value.value, str)
                    ) else None
                    doc = inspect.cleandoc(own) if own else ast.get_docstring(tree)
                    if not doc:
                        _warn(f"plugin {plugin!r} reads {node.value.value} but {path.name} has no docstring saying what it does")
                    rows.append(f"| <a id=\"{node.value.value.lower()}\"></a>`{node.value.value}` | `{plugin}` | "
                                f"{_escape_cell(_rst_to_md(doc or '(not documented)'))} |")
    if not rows:
        return "No installed plugin reads a variable of its own.\n"
    return "| variable | plugin | meaning |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n"


# --- the CLI: the click command tree -----------------------------------------------------


def cli_reference() -> str:
    """Every command and subcommand of ``synaxis``: usage, help, arguments and options."""
    import click

    from synaxis_core.cli import cli

    out: list[str] = []

    def walk(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        ctx = click.Context(command, info_name=path[-1], parent=parent, **command.context_settings)
        name = " ".join(path)
        depth = min(len(path) + 1, 4)
        out.append(f"\n{'#' * depth} `{name}`\n")
        usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
        out.append(f"```text\n{usage}\n```\n")
        if command.help:
            out.append(textwrap.dedent(inspect.cleandoc(command.help)).replace("\b\n", "") + "\n")
        records = []
        for param in command.get_params(ctx):
            if isinstance(param, click.Argument):
                metavar = param.make_metavar(ctx) if _metavar_takes_ctx() else param.make_metavar()
                records.append((metavar, "argument" + ("" if param.required else " (optional)")))
                continue
            if param.name == "help" and parent is not None:
                continue  # every command takes -h/--help: said once, for the root
            record = param.get_help_record(ctx)
            if record:
                records.append(record)
        if records:
            out.append("| option | meaning |\n| --- | --- |")
            for opts, text in records:
                out.append(f"| `{opts}` | {_escape_cell(text) or '—'} |")
            out.append("")
        if isinstance(command, click.Group):
            subcommands = command.list_commands(ctx)
            out.append("Subcommands: " + ", ".join(f"`{sub}`" for sub in subcommands) + ".\n")
            for sub in subcommands:
                walk(command.get_command(ctx, sub), path + [sub], ctx)

    walk(cli, ["synaxis"], None)
    return "\n".join(out) + "\n"


def _metavar_takes_ctx() -> bool:
    import click

    return "ctx" in inspect.signature(click.Argument.make_metavar).parameters


def _code(text: str) -> str:
    """``text`` as a Markdown code span, fenced with more backticks than it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"`{text}`"


def _escape_html(text: str) -> str:
    """``<`` and ``>`` outside code spans as entities, so that ``<think>`` in a docstring
    is shown, not taken for HTML."""
    parts = re.split(r"(`[^`]*`)", text)
    for index in range(0, len(parts), 2):  # the even parts are outside code spans
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "".join(parts)


def _escape_cell(text: str) -> str:
    """One line of text for a Markdown table cell: HTML shown as text, and ``|`` escaped
    outside code spans (inside them Python-Markdown's tables need no escape, and show one)."""
    parts = re.split(r"(`[^`]*`)", _escape_html(" ".join(text.split())))
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("|", "\\|")
    return "".join(parts)


# --- hooks, and the fake upstream's data ------------------------------------------------


def hookspec(name: str) -> str:
    """A hook's signature and docstring, from ``synaxis_core.hookspecs``."""
    from synaxis_core import hookspecs

    function = getattr(hookspecs, name, None)
    if function is None or not hasattr(function, "synaxis_spec"):
        raise LookupError(f"synaxis_core.hookspecs has no hook {name!r}")
    params = ", ".join(
        f"{p.name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else p.name
        for p in inspect.signature(function).parameters.values()
    )  # the annotations are strings (``from __future__ import annotations``): shown as written
    signature = f"def {name}({params})"
    doc = inspect.getdoc(function) or ""
    summary, _, rest = doc.partition("\n\n")
    params = re.findall(r"^:param (\w+): (.*(?:\n {4,}.*)*)", rest, re.M)
    prose = re.sub(r"^:param \w+: .*(?:\n {4,}.*)*\n?", "", rest, flags=re.M).strip()
    out = [f"```python\n@hookimpl\n{signature}:\n    ...\n```\n", f"{_escape_html(_rst_to_md(summary))}\n"]
    for param, text in params:
        out.append(f"- `{param}`: {_escape_html(_rst_to_md(text))}")
    if params:
        out.append("")
    for paragraph in prose.split("\n\n"):
        out.append(_escape_html(_rst_to_md(paragraph)) + "\n")
    return "\n".join(out)


def hook_table() -> str:
    """Every hook, a link to its page (``docs/plugins/<family>.md``), the first line of its docstring."""
    from synaxis_core import hookspecs

    out = ["| hook | contributes |", "| --- | --- |"]
    for name, function in vars(hookspecs).items():  # in the order hookspecs.py defines them
        if not (inspect.isfunction(function) and hasattr(function, "synaxis_spec")):
            continue
        # register_fake_flavors -> fake-flavors.md: a hook without its page is a broken link
        page = name.removeprefix("register_").replace("_", "-") + ".md"
        link = f"[`{name}`]({page}#{name})"
        summary = _rst_to_md((inspect.getdoc(function) or "").split("\n\n")[0])
        out.append(f"| {link} | {summary} |")
    return "\n".join(out) + "\n"


def behavior_kinds() -> str:
    """``synaxis_core.fake.KINDS``, each with the comment beside it in ``behavior.py``."""
    from synaxis_core.fake import behavior

    source = Path(inspect.getsourcefile(behavior) or "").read_text()
    comments = {}
    for line in source.splitlines():
        match = re.match(r'\s*"(\w+)",\s*#\s*(.*)$', line)
        if match:
            comments[match.group(1)] = match.group(2)
    out = ["| kind | what the fake upstream does |", "| --- | --- |"]
    for kind in [*[k for k in comments if k in behavior.KINDS], *sorted(set(behavior.KINDS) - set(comments))]:
        if kind not in comments:
            _warn(f"Behavior kind {kind!r} has no comment in fake/behavior.py's KINDS")
        out.append(f"| `{kind}` | {_escape_cell(_rst_to_md(comments.get(kind, '')))} |")
    return "\n".join(out) + "\n"


def attributes(dotted: str) -> str:
    """The ``Attributes:`` section of a dataclass's docstring, with each field's default."""
    import dataclasses

    module_name, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module_name), name)
    doc = inspect.getdoc(cls) or ""
    section = doc.split("Attributes:", 1)[1] if "Attributes:" in doc else ""
    described = dict(re.findall(r"^ {4}(\w+): (.*(?:\n {8,}.*)*)", section, re.M))
    defaults = _source_defaults(cls)
    out = ["| field | default | meaning |", "| --- | --- | --- |"]
    for field in dataclasses.fields(cls):
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        default = "required" if required else _code(defaults.get(field.name, "?"))
        if field.name not in described:
            _warn(f"{dotted}.{field.name} is not described in the class's Attributes section")
        text = _escape_cell(_rst_to_md(described.get(field.name, "")))
        out.append(f"| `{field.name}` | {default} | {text} |")
    return "\n".join(out) + "\n"


def _source_defaults(cls: type) -> dict[str, str]:
    """Each annotated attribute's default as the class's source writes it
    (``field(default_factory=dict)`` as ``dict()``)."""
    source = Path(inspect.getsourcefile(cls) or "").read_text()
    node = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    found = {}
    for item in node.body:
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
            text = ast.unparse(item.value)
            found[item.target.id] = re.sub(r"^(?:msgspec\.)?field\(default_factory=(\w+)\)$", r"\1()", text)
    return found


def class_fields(dotted: str) -> str:
    """A class's annotated attributes as its source declares them: type, default and the
    docstring after each (msgspec structs, dataclasses, protocols, class attributes)."""
    module_name, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module_name), name)
    source = Path(inspect.getsourcefile(cls) or "").read_text()
    tree = ast.parse(source)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == name)
    docs, _ = _class_body_notes(cls)
    defaults = _source_defaults(cls)
    out = ["| attribute | type | default | meaning |", "| --- | --- | --- | --- |"]
    for item in node.body:
        if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
            continue
        attribute = item.target.id
        if attribute.startswith("_"):
            continue
        kind = ast.unparse(item.annotation)
        kind = re.sub(r"^ClassVar\[(.*)\]$", r"\1", kind)
        default = "required" if item.value is None else _code(defaults[attribute])
        text = _escape_cell(_rst_to_md(docs.get(attribute, "")))
        out.append(f"| `{attribute}` | {_code(kind)} | {default} | {text} |")
    return "\n".join(out) + "\n"


def test_list(dotted: str) -> str:
    """The tests a conformance class gives its subclasses: each ``test_*`` method's name
    read as a sentence (and the first line of its docstring, when it has one)."""
    module_name, _, name = dotted.rpartition(".")
    cls = getattr(importlib.import_module(module_name), name)
    out = []
    for attribute, member in inspect.getmembers(cls, callable):
        if not attribute.startswith("test_"):
            continue
        sentence = attribute.removeprefix("test_").replace("_", " ")
        doc = (inspect.getdoc(member) or "").split("\n")[0]
        out.append(f"- {sentence[:1].upper()}{sentence[1:]} (`{attribute}`)" + (f": {_escape_html(_rst_to_md(doc))}" if doc else ""))
    return "\n".join(out) + "\n"


GENERATORS: dict[str, Callable[..., str]] = {
    "settings": settings_reference,
    "provider-variables": provider_variables,
    "plugin-settings": plugin_settings,
    "cli": cli_reference,
    "hookspec": hookspec,
    "hook-table": hook_table,
    "behavior-kinds": behavior_kinds,
    "attributes": attributes,
    "class-fields": class_fields,
    "test-list": test_list,
}
