"""The running gateway: its services, background work and the one request pipeline.

Knows no HTTP framework: the HTTP edge (``synaxis_core.server``) decodes a request,
calls the pipeline in dialect-neutral terms and encodes its answer. See ARCHITECTURE.md.
"""
