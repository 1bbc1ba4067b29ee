"""``synaxis plugin new``: the package it writes installs and passes its own tests.

The end-to-end test does what the manual says, offline: ``synaxis plugin new acme``,
then ``pip install -e ./synaxis-acme`` into a fresh virtual environment and ``pytest
synaxis-acme`` there, in subprocesses. The new environment sees this project's packages
(synaxis-core, pytest, hatchling: a ``.pth`` file adds this environment's site-packages
after its own), so ``--no-deps --no-build-isolation`` needs nothing from an index.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner

from synaxis_core.cli import cli
from synaxis_core.scaffold import KINDS

TIMEOUT_S = 300  # a safety cap for a loaded 2-core machine, not a timing assertion


def new(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["plugin", "new", *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_writes_a_complete_package(tmp_path, kind):
    code, output = new("acme-ai", "--kind", kind, "--dir", str(tmp_path), "--json")
    assert code == 0, output
    made = json.loads(output)
    root = Path(made["directory"])
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert sorted(made["files"]) == on_disk
    assert (made["distribution"], made["module"]) == ("synaxis-acme-ai", "synaxis_acme_ai")
    assert {"pyproject.toml", "README.md", ".gitignore", "src/synaxis_acme_ai/__init__.py"} <= set(on_disk)
    assert any(re.fullmatch(r"tests/test_acme_ai_\w+\.py", f) for f in on_disk)
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["synaxis"] == {"acme-ai": "synaxis_acme_ai"}
    assert project["tool"]["pytest"]["ini_options"]["asyncio_mode"] == "auto"
    for path in on_disk:
        text = (root / path).read_text()
        assert not re.search(r"\$\{?[a-z_]+\}?", text), f"{path} kept a placeholder"
        if path.endswith(".py"):
            compile(text, path, "exec")


def test_bad_names_and_occupied_directories_are_refused(tmp_path):
    code, output = new("Acme AI", "--dir", str(tmp_path))
    assert code != 0 and "a plugin name is lowercase letters" in output
    assert new("acme", "--dir", str(tmp_path))[0] == 0
    code, output = new("acme", "--dir", str(tmp_path))
    assert code != 0 and "already exists and is not empty" in output


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory) -> Path:
    """A fresh virtual environment that also sees this one's packages (after its own)."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    parent = sysconfig.get_path("purelib")
    Path(site, "_synaxis_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def _run(command: list, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SYNAXIS_"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.mark.parametrize(("name", "kind", "at_least"), [("acme", "provider", 20), ("sorter", "scorer", 5),
                                                         ("cleaner", "postprocessor", 5), ("prices", "catalog", 2)])
def test_a_new_plugin_passes_its_own_tests_after_pip_install_e(tmp_path, plugin_venv, name, kind, at_least):
    synaxis = Path(sys.executable).with_name("synaxis")
    made = _run([synaxis, "plugin", "new", name, "--kind", kind], tmp_path)
    assert made.returncode == 0, made.stderr
    pip = [sys.executable, "-m", "pip", "--python", plugin_venv, "install", "--no-deps", "--no-build-isolation"]
    installed = _run([*pip, "-e", f"./synaxis-{name}"], tmp_path)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    tested = _run([plugin_venv, "-m", "pytest", f"synaxis-{name}", "-p", "no:cacheprovider"], tmp_path)
    summary = tested.stdout.strip().splitlines()[-1] if tested.stdout.strip() else tested.stderr
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= at_least, f"the tests did not run: {summary}"
    assert "failed" not in summary and "error" not in summary
