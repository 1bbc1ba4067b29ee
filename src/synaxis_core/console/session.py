"""The console's signed session cookie and its CSRF tokens (no framework, no storage).

A session is ``<expires>.<nonce>.<signature>``: the signature is an HMAC-SHA256 of the
first two parts with a key derived from ``SYNAXIS_ADMIN_KEY`` (HMAC of a fixed label),
so every instance that shares the admin key accepts the cookie and nothing has to be
stored; changing the admin key signs every session out. The CSRF token of a session is
another HMAC, of its nonce: a page's forms carry it and a post without it (or with
another session's) is refused. Before sign-in there is no session, so the sign-in form
is protected by a double-submit token: a random cookie that the form must repeat.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "synaxis_console"
LOGIN_COOKIE = "synaxis_console_login"
FLASH_COOKIE = "synaxis_console_flash"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL_S = 8 * 3600
"""A session expires after a working day; signing in again starts a new one."""
_LABEL = b"synaxis console session v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Session:
    nonce: str
    expires_at: int


class SessionSigner:
    """Issues and checks sessions and CSRF tokens with a key derived from the admin key."""

    def __init__(self, admin_key: str) -> None:
        self._key = hmac.new(admin_key.encode(), _LABEL, hashlib.sha256).digest()

    def _mac(self, *parts: str) -> str:
        return _b64(hmac.new(self._key, "|".join(parts).encode(), hashlib.sha256).digest())

    def issue(self, now: float | None = None) -> tuple[str, Session]:
        """A new session and its cookie value."""
        session = Session(nonce=secrets.token_urlsafe(18), expires_at=int((now or time.time()) + SESSION_TTL_S))
        payload = f"{session.expires_at}.{session.nonce}"
        return f"{payload}.{self._mac('session', payload)}", session

    def verify(self, value: str | None, now: float | None = None) -> Session | None:
        """The session of a cookie value, or None (absent, forged, tampered with or expired)."""
        if not value or value.count(".") != 2:
            return None
        expires, nonce, signature = value.split(".")
        if not hmac.compare_digest(signature, self._mac("session", f"{expires}.{nonce}")):
            return None
        try:
            expires_at = int(expires)
        except ValueError:
            return None
        if expires_at <= (now or time.time()):
            return None
        return Session(nonce=nonce, expires_at=expires_at)

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf", session.nonce)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(session))

    def sign(self, text: str) -> str:
        """``text`` with a signature (the flash message between a post and the next page)."""
        return f"{_b64(text.encode())}.{self._mac('flash', text)}"

    def unsign(self, value: str | None) -> str | None:
        if not value or "." not in value:
            return None
        encoded, signature = value.rsplit(".", 1)
        try:
            text = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return text if hmac.compare_digest(signature, self._mac("flash", text)) else None


def login_token() -> str:
    """A random value for the sign-in form's double-submit cookie."""
    return secrets.token_urlsafe(18)


def same_token(cookie: str | None, field: str | None) -> bool:
    return bool(cookie) and bool(field) and hmac.compare_digest(str(cookie), str(field))
