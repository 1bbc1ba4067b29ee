"""A minimal instance of a JSON Schema: what the fake upstream answers to a schema.

`minimal_instance(schema)` builds a small value valid against ``schema`` (pure, no I/O,
deterministic), for tool-call arguments and ``response_format`` answers. It covers what
OpenAI's structured outputs and pydantic's ``model_json_schema()`` emit: ``type`` (one
or a list: the first that is not ``"null"``), ``properties`` (all of them, the required
and the optional, leaving out an optional one that would recurse forever), ``required``,
``minProperties``, ``enum`` / ``const`` (the first value), ``anyOf`` / ``oneOf`` (the
first branch that does not recurse forever), ``allOf`` (merged), ``$ref`` to any
``#/...`` pointer (``$defs``, ``definitions``), arrays (``minItems`` items,
``prefixItems``, ``uniqueItems``, ``contains``), numbers (``minimum``, ``maximum``, the
exclusive bounds, an integer ``multipleOf``), strings (``minLength``, ``maxLength``, and
plausible values for ``format`` date, date-time, time, email, uri, uuid, ...). Not
honoured: ``pattern``, ``not``, ``if``/``then``/``else``, a ``oneOf`` whose first
branch also matches another.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 64

FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "iri-reference": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}
"""A plausible value for each string ``format`` (another format gets a plain string)."""

_FORMAT_VARIANTS = {
    "date": lambda i: f"2026-01-{i % 28 + 1:02d}",
    "date-time": lambda i: f"2026-01-{i % 28 + 1:02d}T00:00:00Z",
    "time": lambda i: f"00:00:{i % 60:02d}Z",
    "duration": lambda i: f"P{i + 1}D",
    "email": lambda i: f"user{i}@example.com",
    "uuid": lambda i: f"00000000-0000-4000-8000-{i:012d}",
    "ipv4": lambda i: f"192.0.2.{i % 256}",
    "ipv6": lambda i: f"2001:db8::{i + 1:x}",
}
"""The ``i``-th distinct value of a format, for ``uniqueItems`` (others get a path or suffix)."""

_TYPES = ("object", "array", "string", "integer", "number", "boolean", "null")


class _Cycle(Exception):
    """Building this schema re-enters a ``$ref`` being built: no finite instance this way."""


def minimal_instance(schema: Any) -> Any:
    """A small value valid against ``schema`` (see the module docstring); ``None`` for a
    schema with no finite instance that this builder can find."""
    try:
        return _Builder(schema).build(schema, (), 0)
    except _Cycle:
        return None


class _Builder:
    def __init__(self, root: Any) -> None:
        self.root = root

    def build(self, schema: Any, refs: tuple[str, ...], salt: int) -> Any:
        if not isinstance(schema, dict):
            return None  # true, false or garbage: anything goes / nothing does
        if len(refs) > MAX_DEPTH:
            raise _Cycle
        ref = schema.get("$ref")
        if isinstance(ref, str):
            if ref in refs:
                raise _Cycle
            target = self.resolve(ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            return self.build(_merge([target, siblings]) if siblings else target, (*refs, ref), salt)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return enum[salt % len(enum)]
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and all_of:
            parts = [self.inline(part, refs) for part in all_of]
            rest = {k: v for k, v in schema.items() if k != "allOf"}
            return self.build(_merge([rest, *parts]), refs, salt)
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                rest = {k: v for k, v in schema.items() if k != key}
                return self.first_branch(branches, rest, refs, salt)
        kind = _type_of(schema)
        if kind == "object":
            return self.object(schema, refs, salt)
        if kind == "array":
            return self.array(schema, refs, salt)
        if kind == "string":
            return _string(schema, salt)
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer", salt)
        if kind == "boolean":
            return salt % 2 == 0
        return None

    def resolve(self, ref: str) -> Any:
        """The schema a ``#/...`` JSON pointer names (``{}`` when it names nothing)."""
        node: Any = self.root
        if not ref.startswith("#"):
            return {}
        for raw in ref[1:].lstrip("/").split("/") if ref != "#" else []:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return {}
        return node

    def inline(self, schema: Any, refs: tuple[str, ...]) -> dict[str, Any]:
        """``schema`` with a top-level ``$ref`` replaced by its target (for merging)."""
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        if ref in refs:
            raise _Cycle
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        return _merge([self.inline(self.resolve(ref), (*refs, ref)), siblings])

    def first_branch(self, branches: list[Any], rest: dict[str, Any], refs: tuple[str, ...], salt: int) -> Any:
        for branch in branches:
            try:
                merged = _merge([rest, self.inline(branch, refs)]) if rest else branch
                return self.build(merged, refs, salt)
            except _Cycle:
                continue
        raise _Cycle

    def object(self, schema: dict[str, Any], refs: tuple[str, ...], salt: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        required = schema.get("required")
        required = set(required) if isinstance(required, list) else set()
        out: dict[str, Any] = {}
        for name, sub in properties.items():
            try:
                out[name] = self.build(sub, refs, salt)
            except _Cycle:
                if name in required:
                    raise
        extra = schema.get("additionalProperties", True)
        minimum, maximum = schema.get("minProperties"), schema.get("maxProperties")
        padding = (f"key{i}" for i in range(10_000))
        while any(name not in out for name in required) or (isinstance(minimum, int) and len(out) < minimum):
            name = next((name for name in required if name not in out), None)
            name = next(padding) if name is None else name
            if name not in out:
                out[name] = self.build(extra, refs, salt) if isinstance(extra, dict) else None
        if isinstance(maximum, int):
            for name in [name for name in out if name not in required][::-1]:
                if len(out) <= maximum:
                    break
                del out[name]
        return out

    def array(self, schema: dict[str, Any], refs: tuple[str, ...], salt: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # draft 4-7 tuples
            prefix, items = items, schema.get("additionalItems", {})
        prefix = prefix if isinstance(prefix, list) else []
        count = schema.get("minItems")
        count = max(count if isinstance(count, int) else 0, len(prefix))
        unique = schema.get("uniqueItems") is True
        out = [self.build(sub, refs, salt + i if unique else salt) for i, sub in enumerate(prefix)]
        contains = schema.get("contains")
        if isinstance(contains, dict) and count == len(out):
            times = schema.get("minContains")
            count += times if isinstance(times, int) else 1
            needed = count - len(out)
            out += [self.build(contains, refs, salt + i if unique else salt) for i in range(needed)]
        item = items if isinstance(items, dict) else {}
        out += [self.build(item, refs, salt + i if unique else salt) for i in range(len(out), count)]
        return out


def _type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k in _TYPES]
        kind = next((k for k in kinds if k != "null"), kinds[0] if kinds else None)
    if kind in _TYPES:
        return kind
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema or "minItems" in schema:
        return "array"
    if "minLength" in schema or "maxLength" in schema or "format" in schema:
        return "string"
    if any(key in schema for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return None


def _merge(schemas: list[Any]) -> dict[str, Any]:
    """The ``allOf`` of ``schemas`` as one schema: properties, required and bounds
    combined (the tightest bound wins), other keys from the first schema that has them."""
    out: dict[str, Any] = {}
    for schema in schemas:
        if not isinstance(schema, dict):
            continue
        for key, value in schema.items():
            if key not in out:
                out[key] = dict(value) if key == "properties" and isinstance(value, dict) else value
            elif key == "properties" and isinstance(value, dict) and isinstance(out[key], dict):
                for name, sub in value.items():
                    out[key][name] = _merge([out[key][name], sub]) if name in out[key] else sub
            elif key == "required" and isinstance(value, list) and isinstance(out[key], list):
                out[key] = [*out[key], *(v for v in value if v not in out[key])]
            elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"):
                out[key] = max(out[key], value) if _is_number(out[key]) and _is_number(value) else out[key]
            elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"):
                out[key] = min(out[key], value) if _is_number(out[key]) and _is_number(value) else out[key]
    return out


def _string(schema: dict[str, Any], salt: int) -> str:
    fmt = schema.get("format")
    if fmt in FORMATS:
        if salt == 0:
            return FORMATS[fmt]
        variant = _FORMAT_VARIANTS.get(fmt)
        return variant(salt) if variant is not None else f"{FORMATS[fmt]}{salt}"
    text = "string" if salt == 0 else f"string{salt}"
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text += "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        text = text[-high:] if high else ""  # keep the salt digits at the end: still distinct
    return text


def _number(schema: dict[str, Any], integer: bool, salt: int) -> int | float:
    """The value nearest to ``salt`` (0 first) within the bounds (draft 4's boolean
    exclusive bounds too), a multiple of an integer ``multipleOf``."""
    lo, lo_strict = _tightest(schema, "minimum", "exclusiveMinimum", max)
    hi, hi_strict = _tightest(schema, "maximum", "exclusiveMaximum", min)
    step = schema.get("multipleOf")
    if integer or (_is_number(step) and step > 0 and float(step).is_integer()):
        unit = int(step) if _is_number(step) and step >= 1 and float(step).is_integer() else 1
        lower = None if lo is None else _multiple(lo, lo_strict, unit, up=True)
        upper = None if hi is None else _multiple(hi, hi_strict, unit, up=False)
        value = salt * unit
        if lower is not None and value < lower:
            value = lower + salt * unit
        if upper is not None and value > upper:
            value = max(upper - salt * unit, lower) if lower is not None else upper - salt * unit
        return value if integer else float(value)
    value = float(salt)
    if lo is not None and (value < lo or (lo_strict and value == lo)):
        value = _inside(lo, lo_strict, hi, salt, 1)
    if hi is not None and (value > hi or (hi_strict and value == hi)):
        value = _inside(hi, hi_strict, lo, salt, -1)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tightest(schema: dict[str, Any], inclusive_key: str, exclusive_key: str, pick: Any) -> tuple[Any, bool]:
    """The tightest of a schema's inclusive and exclusive bound, and whether it is exclusive."""
    inclusive, exclusive = schema.get(inclusive_key), schema.get(exclusive_key)
    if exclusive is True:  # draft 4: the boolean makes the inclusive keyword exclusive
        inclusive, exclusive = None, inclusive
    bounds = [(v, strict) for v, strict in ((inclusive, False), (exclusive, True)) if _is_number(v)]
    if not bounds:
        return None, False
    best = pick(v for v, _ in bounds)
    return best, any(strict for v, strict in bounds if v == best)


def _multiple(bound: float, strict: bool, unit: int, *, up: bool) -> int:
    """The first multiple of ``unit`` past ``bound`` (``up``: above it, else below it)."""
    k = math.ceil(bound / unit) if up else math.floor(bound / unit)
    if strict and k * unit == bound:
        k += 1 if up else -1
    return k * unit


def _inside(edge: float, strict: bool, other: float | None, salt: int, direction: int) -> float:
    """The ``salt``-th float from ``edge`` (past it when ``strict``) towards the opposite
    bound ``other`` (None: unbounded, step 1 in ``direction``)."""
    offset = salt + (1 if strict else 0)
    if other is None:
        return float(edge) + direction * offset
    return edge + (other - edge) * offset / (salt + 2)
