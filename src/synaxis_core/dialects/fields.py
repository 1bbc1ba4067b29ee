"""The field checks the OpenAI-shaped dialects start a request with (pure)."""

from __future__ import annotations

from typing import Any, Mapping

from synaxis_core.errors import InvalidRequest, missing_parameter


def check_fields(body: dict[str, Any], required: tuple[str, ...], types: Mapping[str, tuple[type, ...]]) -> None:
    """``InvalidRequest`` naming the field: a ``required`` one absent or null (OpenAI's
    missing-parameter 400), or one of ``types`` sent with another type (a ``bool`` is
    not an ``int`` here unless ``bool`` is listed)."""
    for name in required:
        if body.get(name) is None:
            raise missing_parameter(name)
    for name, kinds in types.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool) and bool not in kinds):
            raise InvalidRequest(f"`{name}` must be of type {' or '.join(k.__name__ for k in kinds)}", param=name)
