"""Hypothesis strategies for routing: requests and candidates as the router builds them."""

from __future__ import annotations

from hypothesis import strategies as st

from synaxis_core.routing.scoring import Candidate, RouteRequest

prices = st.one_of(st.none(), st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False))


@st.composite
def route_requests(draw: st.DrawFn) -> RouteRequest:
    return RouteRequest(
        model=draw(st.sampled_from(["gpt-oss-120b", "deepseek-r1-0528", "glm-4.6-acme"])),
        estimated_input_tokens=draw(st.integers(min_value=0, max_value=200_000)),
        estimated_output_tokens=draw(st.integers(min_value=1, max_value=32_000)),
        tenant=draw(st.one_of(st.none(), st.sampled_from(["acme", "zeta"]))),
        stream=draw(st.booleans()),
    )


@st.composite
def candidates(draw: st.DrawFn, id: str | None = None) -> Candidate:
    return Candidate(
        id=id or draw(st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True)),
        provider=draw(st.sampled_from(["acme", "zeta", "openai", "local"])),
        upstream_id=draw(st.text(min_size=1, max_size=20)),
        global_id=draw(st.one_of(st.none(), st.just("gpt-oss-120b"))),
        input_price=draw(prices),
        output_price=draw(prices),
        is_premium=draw(st.booleans()),
        context_window=draw(st.one_of(st.none(), st.integers(min_value=1, max_value=2_000_000))),
        p95_latency_ms=draw(st.one_of(st.none(), st.floats(min_value=0, max_value=600_000, allow_nan=False))),
        consecutive_failures=draw(st.integers(min_value=0, max_value=10)),
        healthy=draw(st.booleans()),
    )


@st.composite
def candidate_lists(draw: st.DrawFn, min_size: int = 1, max_size: int = 8) -> list[Candidate]:
    ids = draw(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True), min_size=min_size, max_size=max_size, unique=True))
    return [draw(candidates(id=i)) for i in ids]
