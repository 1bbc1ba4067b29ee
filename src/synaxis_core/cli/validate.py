"""``synaxis validate``: the end-to-end check of every active model (see ``synaxis_core.validation``)."""

from __future__ import annotations

import contextlib
from typing import Iterator

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from synaxis_core.cli import cli
from synaxis_core.cli.common import echo_json, load_settings, run
from synaxis_core.db.engine import describe_connection_error
from synaxis_core.errors import ConfigError
from synaxis_core.validation import ModelResult, ProgressCallback, ValidationReport
from synaxis_core.validation import validate as validate_models


@cli.command(short_help="Check every active model end to end.")
@click.option("--provider", help="Only this provider's models.")
@click.option("--model", help="Only this model (provider-model id, global id or upstream id).")
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=4, show_default=True, help="Models checked at the same time."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as a JSON object.")
def validate(provider: str | None, model: str | None, concurrency: int, as_json: bool) -> None:
    """Check every active model end to end; exit status 1 if any fails.

    Sends a sample prompt (a JSON football prediction) to each model, non-streamed and
    streamed, through the whole gateway. An answer passes when it is a 200, has no
    reasoning tags left, is in English and parses as the JSON asked for. An embedding
    model is sent a short text on POST /v1/embeddings and passes with a 200 and a
    non-empty vector of finite numbers. Results go to
    the validation_results table; a model that fails through its own fault is disabled
    with the reason (re-enable it with PATCH /admin/models/ID).
    """
    from synaxis_core.runtime.gateway import Gateway

    settings = load_settings()
    console = Console(stderr=True)

    async def go() -> ValidationReport:
        try:
            gateway = await Gateway.open(settings)
        except OSError as exc:
            raise ConfigError(describe_connection_error(settings.database_url, exc)) from None
        try:
            with progress_bar(console, console.is_terminal and not as_json) as progress:
                return await validate_models(
                    gateway, provider=provider, model=model, concurrency=concurrency, progress=progress
                )
        finally:
            await gateway.close()

    report = run(go())
    if not report.results:
        raise click.ClickException(_nothing_to_validate(report, provider, model))
    if as_json:
        echo_json(report.as_dict())
    else:
        print_table(report)
    if report.failed:
        raise SystemExit(1)


def _nothing_to_validate(report: ValidationReport, provider: str | None, model: str | None) -> str:
    filters = " ".join(f"--{name} {value}" for name, value in (("provider", provider), ("model", model)) if value)
    message = "no active model to validate" + (f" matches {filters}" if filters else "")
    if report.skipped:
        reasons = sorted({s["reason"] for s in report.skipped})
        message += f" ({len(report.skipped)} skipped: {'; '.join(reasons)})"
    return message


@contextlib.contextmanager
def progress_bar(console: Console, enabled: bool) -> Iterator[ProgressCallback | None]:
    """A progress callback drawing a rich bar on ``console`` (stderr), or None."""
    if not enabled:
        yield None
        return
    columns = (TextColumn("validating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, result: ModelResult | None) -> None:
            last = "" if result is None else f"{result.model}: {'ok' if result.ok else 'failed'}"
            bar.update(task, completed=done, total=total, description=last)

        yield progress


def print_table(report: ValidationReport) -> None:
    """The results as a table on stdout, a summary line on stderr."""
    table = Table(Column("model", no_wrap=True), "provider", "result", Column("latency", justify="right"), "reason")
    for r in report.results:
        state = "ok" if r.ok else ("disabled" if r.disabled else "failed")
        table.add_row(r.model, r.provider, state, f"{r.latency_ms:.0f} ms", r.reason or "")
    out = Console()
    if not out.is_terminal:  # piped: no terminal width to fit, keep the reasons whole
        out = Console(width=200)
    out.print(table)
    for s in report.skipped:
        click.echo(f"skipped {s['model']}: {s['reason']}", err=True)
    disabled = sum(1 for r in report.results if r.disabled)
    tail = f" ({disabled} disabled)" if disabled else ""
    click.echo(
        f"{len(report.results)} models: {report.passed} passed, {report.failed} failed{tail}; run {report.run_id}",
        err=True,
    )
