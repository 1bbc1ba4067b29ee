"""What several pages share: today's dates in UTC and parsing a query's or a form's values."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from synaxis_core.errors import InvalidRequest


def today() -> date:
    return datetime.now(timezone.utc).date()


def last_days(n: int) -> tuple[date, date]:
    """The last ``n`` days, today included."""
    end = today()
    return end - timedelta(days=n - 1), end


def text(values: Any, name: str) -> str | None:
    """A trimmed value, None when absent or blank."""
    value = values.get(name)
    value = str(value).strip() if value is not None else ""
    return value or None


def day(values: Any, name: str) -> date | None:
    value = text(values, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name}: expected a date like 2026-01-31, got {value!r}") from None


def moment(values: Any, name: str) -> datetime | None:
    """A ``datetime-local`` value, read as UTC."""
    value = text(values, name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name}: expected a time like 2026-01-31T13:45 (UTC), got {value!r}") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def number(values: Any, name: str, kind: type = int) -> Any:
    value = text(values, name)
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidRequest(f"{name}: expected a number, got {value!r}") from None
