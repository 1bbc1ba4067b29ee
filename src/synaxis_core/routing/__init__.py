"""Routing: candidates, filters, scorers, failover and health."""
