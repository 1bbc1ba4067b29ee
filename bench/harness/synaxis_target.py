"""Synaxis as the process under test: a fresh SQLite database, a config file with one
provider ``bench`` and three deployments of ``bench-model``, a tenant key with limits,
and ``synaxis serve --no-demo`` as a subprocess."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from harness.fixtures import MODEL

DEPLOYMENTS = (("a", 0.50, 1.50), ("b", 0.60, 1.60), ("c", 0.55, 1.55))
"""(suffix, input price, output price): three candidates that routing ranks."""

THINK_SUFFIX = "-syn"
"""With ``think=True`` the ids end in ``-syn`` and the synthetic plugin is loaded: its
think-tag stripper applies to a ``-syn`` id with ``reasoning = true`` (the config-file
format has no key of its own to turn a post-processor on)."""


def write_config(root: Path, upstream_url: str, think: bool) -> Path:
    lines = ['[[providers]]', 'name = "bench"', f'base_url = "{upstream_url}"', "timeout_s = 30", ""]
    for suffix, input_price, output_price in DEPLOYMENTS:
        lines += [
            "[[providers.models]]",
            f'id = "bench-{suffix}{THINK_SUFFIX if think else ""}"',
            f'upstream_id = "bench/{suffix}"',
            f'global_id = "{MODEL}"',
            f"input_price = {input_price}",
            f"output_price = {output_price}",
            "rpm = 10000000",
            f"reasoning = {'true' if think else 'false'}",
            "",
        ]
    path = root / "synaxis.toml"
    path.write_text("\n".join(lines))
    return path


def environment(root: Path, upstream_url: str, think: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNAXIS_", "SYNTHETIC_"))}
    env.update({
        "SYNAXIS_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'synaxis.db'}",
        "SYNAXIS_CONFIG": str(write_config(root, upstream_url, think)),
        "SYNAXIS_LOAD_PLUGINS": "synthetic" if think else "",
    })
    return env


def _synaxis(env: dict[str, str], *args: str) -> str:
    command = [str(Path(sys.executable).with_name("synaxis")), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"`synaxis {' '.join(args)}` failed:\n{done.stderr}")
    return done.stdout


def prepare(root: Path, upstream_url: str, think: bool) -> tuple[dict[str, str], str]:
    """Migrate the database, create the tenant key and its (generous) limits."""
    root.mkdir(parents=True, exist_ok=True)
    env = environment(root, upstream_url, think)
    _synaxis(env, "db", "upgrade")
    key = json.loads(_synaxis(env, "keys", "create", "--tenant", "bench", "--json"))["key"]
    _synaxis(env, "tenants", "limit", "bench", "--rpm", "100000000", "--tpm", "2000000000", "--budget", "1000000")
    return env, key


def start(env: dict[str, str], port: int, cpus: str, log: Path, *, log_level: str = "warning",
          soft_nofile: int | None = None) -> subprocess.Popen:
    """``synaxis serve`` pinned to ``cpus``; ``soft_nofile``: start it with that soft
    open-file limit (as from a shell's usual 1,024), which serve raises to the hard one."""
    command = ["taskset", "-c", cpus, str(Path(sys.executable).with_name("synaxis")), "serve", "--no-demo",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", log_level]

    def lowered() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft_nofile, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    with open(log, "wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=lowered if soft_nofile else None)
