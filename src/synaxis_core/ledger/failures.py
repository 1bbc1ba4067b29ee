"""Why a ledger flush failed: the rows' fault (isolate them) or the database's (retry).

The writer retries a failed batch until it is written. It bisects a batch to isolate bad
rows only when the error says the data is at fault (:func:`is_data_error`), or when the
batch keeps failing for no stated reason while the database otherwise answers — never
when the database says it cannot write right now (:func:`is_resource_error`: a full
disk, an I/O error, no memory, too many connections, a shutdown), which no row can be
blamed for: those are retried until the database can write again.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

SQLITE_RESOURCE_CODES = {5, 6, 7, 8, 10, 13, 14, 15}
"""SQLITE_BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL (primary codes)."""
POSTGRES_RESOURCE_CLASSES = ("08", "53", "57", "58")
"""Connection exception, insufficient resources (53100 disk_full), operator intervention,
system error (58030 io_error)."""
RESOURCE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}
RESOURCE_TEXTS = ("database or disk is full", "disk i/o error", "no space left on device", "disk full")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cause = todo.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        yield cause
        todo.extend((getattr(cause, "orig", None), cause.__cause__, cause.__context__))


def is_resource_error(exc: BaseException) -> bool:
    """True when the database cannot write for now, whatever the rows (retry, never drop)."""
    for cause in _causes(exc):
        if isinstance(cause, OSError) and cause.errno in RESOURCE_ERRNOS:
            return True
        code = getattr(cause, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in SQLITE_RESOURCE_CODES:
            return True
        sqlstate = str(getattr(cause, "sqlstate", "") or "")
        if sqlstate[:2] in POSTGRES_RESOURCE_CLASSES:
            return True
        if any(text in str(cause).lower() for text in RESOURCE_TEXTS):
            return True
    return False


def is_data_error(exc: BaseException) -> bool:
    """True when retrying the same rows cannot help (bad data, not a bad connection)."""
    if isinstance(exc, (IntegrityError, DataError)):
        return True
    if isinstance(exc, StatementError) and not isinstance(exc, DBAPIError):
        return True  # a value the bind processor could not convert
    cause: BaseException | None = getattr(exc, "orig", None)
    while cause is not None:  # e.g. asyncpg's client-side DataError, wrapped generically
        sqlstate = str(getattr(cause, "sqlstate", "") or "")
        if type(cause).__name__ in ("DataError", "IntegrityError") or sqlstate[:2] in ("22", "23"):
            return True
        cause = cause.__cause__
    return False


def reason(exc: BaseException) -> str:
    """The first line of what the database said."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
