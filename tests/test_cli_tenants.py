"""``synaxis keys``, ``synaxis tenants`` and ``synaxis usage`` as a user runs them."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from synaxis_core.cli import cli
from synaxis_core.db.engine import create_engine, session_factory
from synaxis_core.db.models import ApiKey
from synaxis_core.ledger.writer import LedgerWriter, UsageEntry
from synaxis_core.tenants.keys import hash_key

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

VERBS = [["keys", "create"], ["keys", "revoke"], ["keys", "list"], ["tenants", "limit"], ["tenants", "list"], ["usage"]]


def invoke(args: list[str], **env: str):
    return CliRunner().invoke(cli, args, env={"SYNAXIS_LOAD_PLUGINS": None, **env}, catch_exceptions=False)


async def write_usage(url: str, entries: list[UsageEntry]) -> list[ApiKey]:
    engine = create_engine(url)
    try:
        writer = LedgerWriter(session_factory(engine))
        writer.start()
        for item in entries:
            await writer.record(item)
        await writer.aclose()
        async with session_factory(engine)() as session:
            return list(await session.scalars(select(ApiKey)))
    finally:
        await engine.dispose()


def test_keys_limits_and_usage(database_url):
    env = {"SYNAXIS_DATABASE_URL": database_url}
    assert invoke(["db", "upgrade"], **env).exit_code == 0

    created = invoke(["keys", "create", "--tenant", "acme", "--json"], **env)
    assert created.exit_code == 0, created.output
    made = json.loads(created.stdout)
    assert made["tenant"] == "acme" and made["key"].startswith("sk-syn-") and made["prefix"] == made["key"][:12]

    plain = invoke(["keys", "create", "--tenant", "acme"], **env)
    second_key = plain.stdout.strip()
    assert second_key.startswith("sk-syn-") and len(second_key) == 47
    assert "not shown again" in plain.stderr and second_key not in plain.stderr

    listed = invoke(["keys", "list", "--tenant", "acme", "--json"], **env)
    keys = json.loads(listed.stdout)
    assert [k["prefix"] for k in keys] == [made["prefix"], second_key[:12]]
    for secret in (made["key"], hash_key(made["key"]), second_key, hash_key(second_key)):
        assert secret not in listed.output
    assert made["prefix"] in invoke(["keys", "list"], **env).output

    limited = invoke(["tenants", "limit", "acme", "--rpm", "60", "--budget", "25", "--json"], **env)
    assert json.loads(limited.stdout) == {"tenant": "acme", "model": "*", "rpm": 60, "tpm": None, "budget_usd": 25.0}
    model_limit = invoke(["tenants", "limit", "acme", "--model", "gpt-4o", "--tpm", "1000"], **env)
    assert model_limit.output.strip() == "acme gpt-4o: 1000 tpm"
    cleared = invoke(["tenants", "limit", "acme", "--clear", "rpm"], **env)
    assert cleared.output.strip() == "acme *: $25/month"
    (tenant,) = json.loads(invoke(["tenants", "list", "--json"], **env).stdout)
    assert tenant["name"] == "acme" and tenant["active_keys"] == 2
    assert tenant["limits"] == {
        "*": {"rpm": None, "tpm": None, "budget_usd": 25.0},
        "gpt-4o": {"rpm": None, "tpm": 1000, "budget_usd": None},
    }
    assert "acme" in invoke(["tenants", "list"], **env).output

    revoked = invoke(["keys", "revoke", made["prefix"]], **env)
    assert revoked.exit_code == 0 and made["prefix"] in revoked.output
    again = invoke(["keys", "revoke", made["prefix"]], **env)
    assert again.exit_code == 1 and again.output.startswith("Error: no active key with prefix")

    assert json.loads(invoke(["usage", "--json"], **env).stdout) == []
    assert "no usage recorded" in invoke(["usage"], **env).output
    tenant_id = made["tenant_id"]
    rows = [
        UsageEntry(request_id=f"r{n}", tenant_id=tenant_id, provider_model_id="gpt-4o-x", prompt_tokens=100,
                   completion_tokens=10, cost_usd=0.01, status="ok" if n else "error")
        for n in range(3)
    ]
    stored = asyncio.run(write_usage(database_url, rows))
    assert {row.key_hash for row in stored} == {hash_key(made["key"]), hash_key(second_key)}

    (total,) = json.loads(invoke(["usage", "--tenant", "acme", "--json"], **env).stdout)
    assert total["tenant"] == "acme" and total["model"] == "gpt-4o-x"
    assert (total["requests"], total["ok"], total["errors"]) == (3, 2, 1)
    assert (total["prompt_tokens"], total["completion_tokens"]) == (300, 30)
    assert total["cost_usd"] == pytest.approx(0.03)
    table = invoke(["usage"], **env).output
    assert "gpt-4o-x" in table and "total" in table and "0.0300" in table


@pytest.mark.parametrize(
    "args, expected",
    [
        (["tenants", "limit", "nobody", "--rpm", "5"], "Error: no tenant named 'nobody'"),
        (["tenants", "limit", "acme"], "Error: nothing to change"),
        (["usage", "--tenant", "nobody"], "Error: no tenant named 'nobody'"),
        (["keys", "list", "--tenant", "nobody"], "Error: no tenant named 'nobody'"),
        (["keys", "revoke", "oops"], "Error: expected a key or its 12-character prefix"),
    ],
)
def test_errors_are_one_line(sqlite_url, args, expected):
    env = {"SYNAXIS_DATABASE_URL": sqlite_url}
    invoke(["db", "upgrade"], **env)
    invoke(["keys", "create", "--tenant", "acme"], **env)
    result = invoke(args, **env)
    assert result.exit_code == 1
    assert result.output.strip().startswith(expected) and len(result.output.strip().splitlines()) == 1


def test_negative_limits_are_refused_by_the_option_parser(sqlite_url):
    result = CliRunner().invoke(cli, ["tenants", "limit", "acme", "--rpm", "-1"], env={"SYNAXIS_DATABASE_URL": sqlite_url})
    assert result.exit_code == 2 and "-1 is not in the range x>=0" in result.output


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_help(verb):
    result = invoke([*verb, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_verbs_before_upgrade_say_to_upgrade(sqlite_url):
    result = invoke(["keys", "create", "--tenant", "acme"], SYNAXIS_DATABASE_URL=sqlite_url)
    assert result.exit_code == 1 and "run `synaxis db upgrade` first" in result.output
