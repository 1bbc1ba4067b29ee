"""``synaxis fake-upstream``: serve the in-repo fake of the providers, for demos and tests.

Point a provider at it with its base-URL variable, e.g.
``SYNTHETIC_BASE_URL=http://127.0.0.1:8089/synthetic/v1``; script failures per model
over its control API (``/_fake/``, see ``synaxis_core.fake.control``).
"""

from __future__ import annotations

import ipaddress

import click

from synaxis_core.cli import cli


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@cli.command("fake-upstream", short_help="Run the fake upstream (a loopback test server).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback interface to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8089, show_default=True, help="TCP port (0: any free port)."
)
@click.option("--api-key", help="Accept only this bearer token (default: any).")
def fake_upstream(host: str, port: int, api_key: str | None) -> None:
    """Run the fake upstream, a loopback test server, until Ctrl-C.

    It serves the synthetic, together, nvidia and openai flavors and answers like the
    real providers, quirks included; scripted failures go through its control API
    (/_fake/). It listens on a loopback address only.
    """
    from synaxis_core.fake.upstream import FakeUpstream

    if not is_loopback(host):
        raise click.ClickException(
            f"refusing to listen on {host}: the fake upstream is a test server, "
            "use a loopback address such as 127.0.0.1"
        )
    try:
        FakeUpstream(port=port, host=host, api_key=api_key).serve_forever()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
