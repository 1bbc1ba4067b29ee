"""The ``synaxis`` command: each verb lives in a module of this package, named for it."""

from __future__ import annotations

import sys

import click
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from synaxis_core import __version__
from synaxis_core.errors import SynaxisError


class SynaxisGroup(click.Group):
    """Turns domain and database errors into a one-line message and exit status 1."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except SynaxisError as exc:
            raise click.ClickException(exc.message) from None
        except (DBAPIError, SQLAlchemyError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise click.ClickException(f"database error: {reason}") from None


@click.group(cls=SynaxisGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synaxis")
def cli() -> None:
    """Synaxis: an OpenAI-compatible LLM gateway built from plugins."""


def main() -> None:
    cli(prog_name="synaxis")


def _register_commands() -> None:
    from synaxis_core.cli import db, plugin, registry, sync  # noqa: F401  (each adds its verbs)

    for optional in ("serve", "tenants", "validate", "fake_upstream", "usage"):
        try:
            __import__(f"synaxis_core.cli.{optional}")
        except ModuleNotFoundError as exc:
            if exc.name != f"synaxis_core.cli.{optional}":
                raise


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
