"""Demo mode's tenant key survives restarts: the same key again, never a pile of active ones."""

from __future__ import annotations

import stat

from synaxis_core.plugins import load_extensions
from synaxis_core.runtime.demo import banner, demo_key_path, demo_tenant_key
from synaxis_core.runtime.gateway import Gateway
from synaxis_core.settings import Settings
from synaxis_core.tenants.service import list_keys


async def restart(settings: Settings) -> tuple[str, list[dict]]:
    gateway = await Gateway.open(settings, ext=load_extensions(settings))
    try:
        key = await demo_tenant_key(gateway, demo_key_path(settings))
        assert gateway.auth.authenticate(key).name == "demo"
        return key, await list_keys(gateway.sessions, "demo")
    finally:
        await gateway.close()


async def test_a_restart_reuses_the_demo_key(tmp_path):
    settings = Settings.from_env({"SYNAXIS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'synaxis.db'}",
                                  "SYNAXIS_LOAD_PLUGINS": ""})
    path = demo_key_path(settings)
    assert path == tmp_path / "synaxis.db.demo-key"
    first, _ = await restart(settings)
    second, keys = await restart(settings)
    assert second == first and [k["active"] for k in keys] == [True]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.unlink()  # the kept key is gone: a new one, and the old one stops working
    third, keys = await restart(settings)
    assert third != first and sorted(k["active"] for k in keys) == [False, True]


def test_the_banner_names_each_installed_providers_key_variable():
    settings = Settings.from_env({})
    text = banner(settings, load_extensions(settings), "sk-syn-demo")
    assert "DEMO MODE" in text and "sk-syn-demo" in text
    for name in ("NVIDIA_API_KEY", "SYNTHETIC_API_KEY", "TOGETHER_API_KEY"):
        assert name in text
