"""Synaxis: an OpenAI-compatible LLM gateway built as a plugin framework."""

from synaxis_core.hookspecs import hookimpl

__all__ = ["hookimpl", "__version__"]
__version__ = "0.1.0"
