"""What ``bench/run.py`` prints: the table of every target, the ratios to the floor (the
bare ASGI + pyreqwest pass-through) and the budget lines of issue #18."""

from __future__ import annotations

FLOOR = "bare floor"
"""The row every ratio is taken against."""
SAME_CLIENT = "minimal/pyreqwest"
BUDGET = {"rps_ratio_32": 0.6, "streams_ratio_32": 0.5, "p50_added_ms_1": 0.3, "rss_mb": 150.0, "routing_us": 20.0}


def cpu_point(connections: list[int]) -> int:
    """CPU per request is read at 32 clients (else the last point)."""
    return 32 if 32 in connections else connections[-1]


def table(rows: dict[str, dict], connections: list[int]) -> str:
    cols = []
    for c in connections:
        cols += [f"rps@{c}"] + ([f"p50@{c}", f"p99@{c}"] if c in (1, 32) else [])
    cols += ["streams/s", "TTFB p50", "CPU/req", "CPU/strm", "peak RSS", "others %"]
    lines = [f"{'':<18}" + "".join(f"{c:>11}" for c in cols)]
    for name, row in rows.items():
        cells = []
        for c in connections:
            p = row["points"][str(c)]
            cells.append(f"{p['rps']:.0f}")
            if c in (1, 32):
                cells += [f"{p['p50_ms']:.2f}ms", f"{p['p99_ms']:.2f}ms"]
        cpu = row["points"][str(cpu_point(connections))]["cpu_us_per_req"]
        stream = row["stream"]
        busy = [max(p.get(f"other_cpu{i}_pct", 0) for p in [*row["points"].values(), stream]) for i in (0, 1)]
        cells += [f"{stream['rps']:.0f}", f"{row['ttfb_p50_ms']:.2f}ms", f"{cpu:.0f}us",
                  f"{stream['cpu_us_per_req']:.0f}us", f"{row['peak_rss_mb']:.0f}MB", f"{busy[0]:.0f}/{busy[1]:.0f}"]
        lines.append(f"{name:<18}" + "".join(f"{c:>11}" for c in cells))
    lines.append("(streams/s: whole SSE streams of 23 events at 32 clients; CPU/req at "
                 f"{cpu_point(connections)} clients; CPU/strm: per whole stream; others %: the most CPU 0 / CPU 1 "
                 "time other processes took during a point; high = noisy)")
    return "\n".join(lines)


def ratios(rows: dict[str, dict], connections: list[int]) -> list[str]:
    """Every proxy row against the floor: requests/s, streams/s, CPU per request and stream."""
    floor = rows[FLOOR]
    cp = str(cpu_point(connections))
    lines = [f"ratios to the floor ({FLOOR}: bare ASGI + pyreqwest):"]
    for name, row in rows.items():
        if name in (FLOOR, "upstream"):
            continue
        rps = ", ".join(f"@{c} {row['points'][str(c)]['rps'] / floor['points'][str(c)]['rps']:.2f}x" for c in connections)
        streams = row["stream"]["rps"] / floor["stream"]["rps"]
        cpu = row["points"][cp]["cpu_us_per_req"] / floor["points"][cp]["cpu_us_per_req"]
        cpu_stream = row["stream"]["cpu_us_per_req"] / floor["stream"]["cpu_us_per_req"]
        row["ratios"] = {"rps": {c: row["points"][str(c)]["rps"] / floor["points"][str(c)]["rps"] for c in connections},
                         "streams": streams, "cpu_per_request": cpu, "cpu_per_stream": cpu_stream}
        lines.append(f"  {name:<18} requests/s {rps}; whole streams/s {streams:.2f}x; "
                     f"CPU per request {cpu:.2f}x, per stream {cpu_stream:.2f}x")
    if SAME_CLIENT in rows and "synaxis" in rows:
        s, same = rows["synaxis"]["points"][cp]["cpu_us_per_req"], rows[SAME_CLIENT]["points"][cp]["cpu_us_per_req"]
        lines.append(f"  synaxis - {SAME_CLIENT}: +{s - same:.0f} us of CPU per request at {cp} clients (the gateway's "
                     "own work over a Litestar pass-through on the same client)")
    return lines


def checks(rows: dict[str, dict], connections: list[int], micro: dict | None, slow: dict | None) -> list[dict]:
    """The budget lines that this run measured; ``pass`` False fails the run."""
    s, floor = rows["synaxis"], rows[FLOOR]
    out: list[dict] = []

    def line(what: str, value: str, ok: bool) -> None:
        out.append({"check": what, "value": value, "pass": ok})

    if "32" in s["points"]:
        ratio = s["points"]["32"]["rps"] / floor["points"]["32"]["rps"]
        line("non-streamed requests/s at 32 clients >= 0.6x the floor", f"{ratio:.2f}x", ratio >= BUDGET["rps_ratio_32"])
    ratio = s["stream"]["rps"] / floor["stream"]["rps"]
    line("whole streams/s at 32 clients >= 0.5x the floor", f"{ratio:.2f}x", ratio >= BUDGET["streams_ratio_32"])
    if slow is not None:
        out += slow.get("checks") or [{"check": "slow streams at 5,000", "value": "not measured", "pass": False}]
    if "1" in s["points"]:
        added = s["points"]["1"]["p50_ms"] - floor["points"]["1"]["p50_ms"]
        line("p50 at 1 client <= the floor's + 0.3 ms", f"{added:+.2f} ms", added <= BUDGET["p50_added_ms_1"])
    line("peak RSS <= 150 MB (this run; --memory: after 100,000 requests, flat)", f"{s['peak_rss_mb']:.0f} MB",
         s["peak_rss_mb"] <= BUDGET["rss_mb"])
    if micro and micro.get("routing"):
        us = micro["routing"]["global_3_candidates"]["median_us"]
        line("routing decision <= 20 us (10,000 models)", f"{us:.1f} us", us <= BUDGET["routing_us"])
    return out


def budget_text(found: list[dict]) -> str:
    return "budget:\n" + "\n".join(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['check']}: {c['value']}" for c in found)
