"""API dialects: pure translators between a client's API and the pipeline's chat terms.

A dialect turns its request into a ``types.ChatRequest`` (the chat-completions shape)
and the pipeline's answer or chunk stream into its own response or events. No I/O here,
and nothing of ``server`` or ``runtime``: the HTTP edge calls these functions.
"""
