"""Upstream providers: the OpenAI-compatible base every provider plugin builds on."""
