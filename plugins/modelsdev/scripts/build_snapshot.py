"""Build the bundled models.dev snapshot (``synaxis_modelsdev/snapshot.json``).

Usage::

    python plugins/modelsdev/scripts/build_snapshot.py [FIXTURES_DIR] [--date YYYY-MM-DD] [--out PATH]

``FIXTURES_DIR`` (default ``tests/fixtures``) holds models.dev ``api.json``
subsets: dated ones named ``modelsdev_api_subset_<YYYY-MM-DD>.json`` and the newest one,
``modelsdev_api_subset.json``. They are merged oldest first, so for a model present in
several files the newest entry wins, and models that a newer file no longer lists (the
Synthetic models pruned after 2026-06-23) are kept with their last known prices.
Provider fields (name, api, env...) come from the newest file that has the provider.

The output is an ordinary ``api.json`` document plus one ``_meta`` key (the parser
ignores top-level keys starting with ``_``)::

    {"_meta": {"date": "2026-07-02", "sources": [...]}, "synthetic": {...}, ...}

``date`` is the date of the newest source (``--date``, default 2026-07-02, the date of
``modelsdev_api_subset.json`` given in the fixtures README); the catalog reports it in
``CatalogData.from_snapshot`` and in its warning when it falls back to the snapshot.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

DEFAULT_FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "synaxis_modelsdev" / "snapshot.json"
NEWEST_NAME = "modelsdev_api_subset.json"
DATED = re.compile(r"^modelsdev_api_subset_(\d{4}-\d{2}-\d{2})\.json$")


def source_files(directory: Path) -> list[Path]:
    """The subsets in ``directory``, oldest first (dated files by date, the undated one last)."""
    dated = sorted((m.group(1), p) for p in directory.iterdir() if (m := DATED.match(p.name)))
    files = [p for _, p in dated]
    newest = directory / NEWEST_NAME
    if newest.is_file():
        files.append(newest)
    if not files:
        raise SystemExit(f"no modelsdev_api_subset*.json in {directory}")
    return files


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge api.json documents given oldest first; later providers and models win."""
    merged: dict[str, Any] = {}
    for doc in documents:
        for provider_id, provider in doc.items():
            if provider_id.startswith("_"):
                continue
            models = dict(merged.get(provider_id, {}).get("models", {}))
            models.update(provider.get("models", {}))
            merged[provider_id] = {**provider, "models": {k: models[k] for k in sorted(models)}}
    return {k: merged[k] for k in sorted(merged)}


def build(directory: Path, date: str) -> dict[str, Any]:
    files = source_files(directory)
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in files]
    return {"_meta": {"date": date, "sources": [p.name for p in files]}, **merge(documents)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixtures", nargs="?", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--date", default="2026-07-02", help="date of the newest source")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    snapshot = build(args.fixtures, args.date)
    args.out.write_text(json.dumps(snapshot, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    counts = {k: len(v["models"]) for k, v in snapshot.items() if not k.startswith("_")}
    print(f"wrote {args.out} ({args.date}): {counts}")


if __name__ == "__main__":
    main()
