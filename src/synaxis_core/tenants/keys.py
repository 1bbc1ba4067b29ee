"""API keys: generation, hashing and comparison.

A key is ``sk-syn-`` followed by 40 URL-safe random characters (240 bits from
``secrets``). The database stores only the SHA-256 hex digest of the whole key
(``api_keys.key_hash``) and its first 12 characters (``prefix``, e.g. ``sk-syn-AbCdE``),
which identify a key to humans (``synaxis keys list``, ``synaxis keys revoke``) without
revealing it.

Looking a key up by its digest in a dict is safe against timing attacks: what an
attacker could learn is a prefix of the SHA-256 digest of their own guess, which tells
nothing about a real key. Where two digests are compared directly, ``verify_key`` uses
``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "sk-syn-"
RANDOM_CHARS = 40
KEY_LENGTH = len(KEY_PREFIX) + RANDOM_CHARS
PREFIX_LENGTH = 12


def generate_key() -> str:
    """A new random API key: ``sk-syn-`` + 40 URL-safe characters."""
    return KEY_PREFIX + secrets.token_urlsafe(RANDOM_CHARS * 3 // 4)[:RANDOM_CHARS]


def hash_key(key: str) -> str:
    """The SHA-256 hex digest of the full key, as stored in ``api_keys.key_hash``."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    """The first 12 characters: shown to humans to identify a key."""
    return key[:PREFIX_LENGTH]


def looks_like_key(text: str) -> bool:
    """True when ``text`` has the shape of a full Synaxis key (not whether it is valid)."""
    return len(text) == KEY_LENGTH and text.startswith(KEY_PREFIX)


def looks_like_prefix(text: str) -> bool:
    """True when ``text`` has the shape of a key prefix as ``keys list`` shows it."""
    return len(text) == PREFIX_LENGTH and text.startswith(KEY_PREFIX)


def verify_key(key: str, key_hash: str) -> bool:
    """Constant-time check that ``key`` hashes to ``key_hash``."""
    return hmac.compare_digest(hash_key(key), key_hash)
