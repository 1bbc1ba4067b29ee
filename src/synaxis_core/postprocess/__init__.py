"""Output post-processors: streaming-safe transformers applied to model output."""
