"""Intercom's notification signature: ``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>``,
keyed with the app's client secret (pure)."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature"
_PREFIX = "sha1="


def sign(secret: bytes, body: bytes) -> str:
    """The header value Intercom sends for ``body``."""
    return _PREFIX + hmac.new(secret, body, hashlib.sha1).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of the raw ``body``. Compared in constant time
    (``hmac.compare_digest``), so a forger learns nothing from how long a refusal takes."""
    if not header:
        return False
    expected = sign(secret, body)
    # Intercom sends lower-case hex; accept upper case too, compare as ASCII bytes.
    given = header.strip()
    if given[:5].lower() == _PREFIX:
        given = _PREFIX + given[5:].lower()
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))
