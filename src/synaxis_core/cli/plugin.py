"""``synaxis plugin new``: start a plugin as its own installable package."""

from __future__ import annotations

from pathlib import Path

import click

from synaxis_core.cli import cli
from synaxis_core.cli.common import echo_json
from synaxis_core.scaffold import KINDS, ScaffoldError, render


@cli.group()
def plugin() -> None:
    """Write plugins: ``synaxis plugin new NAME`` starts one."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), default="provider", show_default=True,
              help="What the plugin contributes.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              help="Where to create synaxis-NAME/ (default: the current directory).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as a JSON object.")
def new(name: str, kind: str, directory: Path, as_json: bool) -> None:
    """Write synaxis-NAME/: a complete plugin package that passes its own tests.

    \b
    It holds a pyproject.toml with the entry point (group "synaxis") and the pytest
    setup, a README, the module (src/synaxis_NAME/) and tests built on the test kit
    (a provider's run against its own fake-upstream flavour). Then:
      pip install -e ./synaxis-NAME && pytest synaxis-NAME
    """
    try:
        made = render(name, kind, directory)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json({
            "name": made.name, "kind": made.kind, "distribution": made.distribution, "module": made.module,
            "directory": str(made.root), "files": [path.as_posix() for path in made.files],
        })
        return
    click.echo(f"wrote {made.root}/ ({made.kind} plugin {made.name!r}):")
    for path in made.files:
        click.echo(f"  {path.as_posix()}")
    where = made.root if made.root.is_absolute() else f"./{made.root.as_posix()}"  # pip -e wants a path
    click.echo(f"next: pip install -e {where} && pytest {where}")
