"""The per-request metrics kept as plain numbers and rendered when scraped."""

from synaxis_core.runtime.metrics import Metrics


def test_latency_histogram_buckets_are_cumulative_and_inclusive():
    metrics = Metrics()
    for seconds in (0.005, 0.007, 3.0, 500.0):  # 0.005 is in le="0.005": buckets are "less or equal"
        metrics.latency.observe(("false",), seconds)
    text = metrics.render().decode()
    assert 'synaxis_request_latency_seconds_bucket{le="0.005",stream="false"} 1.0' in text
    assert 'synaxis_request_latency_seconds_bucket{le="0.01",stream="false"} 2.0' in text
    assert 'synaxis_request_latency_seconds_bucket{le="5.0",stream="false"} 3.0' in text
    assert 'synaxis_request_latency_seconds_bucket{le="120.0",stream="false"} 3.0' in text
    assert 'synaxis_request_latency_seconds_bucket{le="+Inf",stream="false"} 4.0' in text
    assert 'synaxis_request_latency_seconds_count{stream="false"} 4.0' in text
    assert 'synaxis_request_latency_seconds_sum{stream="false"} 503.012' in text


def test_counters_add_per_label_set():
    metrics = Metrics()
    metrics.tokens.add(("d1", "in"), 20)
    metrics.tokens.add(("d1", "in"), 5)
    metrics.tokens.add(("d2", "out"), 7)
    metrics.failovers.add()
    text = metrics.render().decode()
    assert 'synaxis_tokens_total{deployment="d1",direction="in"} 25.0' in text
    assert 'synaxis_tokens_total{deployment="d2",direction="out"} 7.0' in text
    assert "synaxis_failovers_total 1.0" in text
    assert "# TYPE synaxis_tokens_total counter" in text
