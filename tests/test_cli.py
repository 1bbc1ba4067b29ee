"""The ``synaxis`` command as a user runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from synaxis_core.cli import cli

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def invoke(args: list[str], **env: str):
    return CliRunner().invoke(cli, args, env={"SYNAXIS_LOAD_PLUGINS": None, **env}, catch_exceptions=False)


def test_upgrade_sync_and_models_json(database_url):
    env = {"SYNAXIS_DATABASE_URL": database_url, "SYNTHETIC_API_KEY": "x"}
    assert "upgraded" in invoke(["db", "upgrade"], **env).output
    assert "already at schema" in invoke(["db", "upgrade"], **env).output

    first = invoke(["sync", "providers", "--json"], **env)
    assert first.exit_code == 0, first.output
    (report,) = json.loads(first.output)
    assert report["source"] == "providers"

    second = json.loads(invoke(["sync", "providers", "--json"], **env).output)[0]
    assert (second["added"], second["updated"], second["deactivated"]) == (0, 0, 0)
    assert second["unchanged"] == report["added"]

    listed = json.loads(invoke(["models", "--json"], **env).output)
    assert len(listed) == report["added"]
    for model in listed:
        assert {
            "id", "provider", "upstream_id", "global_model_id", "display_name", "is_premium",
            "active", "is_available", "disabled_reason", "input_price", "output_price", "context_window",
        } <= set(model)


def test_plugins_lists_the_five_installed_plugins():
    result = invoke(["plugins", "--json"])
    names = {p["name"]: p for p in json.loads(result.output)}
    assert set(names) == {"synthetic", "together", "nvidia", "modelsdev", "jsonl"}
    assert names["jsonl"]["hooks"] == ["register_observers"]
    assert names["modelsdev"]["package"] == "synaxis-modelsdev" and names["modelsdev"]["version"]
    assert "register_catalogs" in names["modelsdev"]["hooks"]


def test_every_verb_has_help():
    for verb in cli.commands:
        result = invoke([verb, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, verb


def test_unknown_verb_is_a_clear_error():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2 and "No such command 'frobnicate'" in result.output


def test_models_before_upgrade_says_to_upgrade(sqlite_url):
    result = invoke(["models"], SYNAXIS_DATABASE_URL=sqlite_url)
    assert result.exit_code == 1
    assert result.output.strip() == "Error: the database has no Synaxis schema: run `synaxis db upgrade` first"


@pytest.mark.parametrize(
    "url, expected",
    [
        ("not a url", "is not a database URL"),
        ("postgresql://u@127.0.0.1/db", "needs an async driver: write postgresql+asyncpg://"),
        ("mysql+aiomysql://u@127.0.0.1/db", "is not supported"),
        ("sqlite+aiosqlite:////nonexistent/dir/x.db", "which does not exist"),
        ("postgresql+asyncpg://u@127.0.0.1:1/db", "cannot use the database"),
    ],
)
def test_bad_database_urls_give_one_line_that_says_what_to_do(url, expected):
    result = invoke(["models"], SYNAXIS_DATABASE_URL=url)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0]
    assert "Traceback" not in result.output


def test_serve_with_an_unreachable_database_says_so_in_one_line():
    result = invoke(["serve", "--no-demo"], SYNAXIS_DATABASE_URL="postgresql+asyncpg://u@127.0.0.1:1/db")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot use the database")
