"""Helpers of the gateway benchmark (``bench/run.py``): the nginx upstream, the minimal
proxy, the load generator, the stream time-to-first-byte client and process probes."""
