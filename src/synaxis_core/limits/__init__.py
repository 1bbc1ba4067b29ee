"""Rate limits, budgets, health counters and cool-downs: memory and Redis backends."""
