"""Normalisers that turn caller-supplied values into bounded, safe values before storage.

Every function here is total: it returns a usable value (or None) for any input, because the
recorder must never raise into an auth handler.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

REASONS = (
    "network",
    "expired",
    "revoked",
    "invalid",
    "inactive",
    "server_error",
    "rate_limited",
    "other",
)
"""Closed vocabulary of refresh-failure and forced-logout reasons; unknown ones become `other`."""

SOURCES = ("server", "client")
UNKNOWN_SITE = "unknown"
DEFAULT_MAX_SITE_LENGTH = 64
MAX_USER_ID_LENGTH = 128

_REASON_SET = frozenset(REASONS)


class IPMode(StrEnum):
    """Storage mode of client addresses: as they are, truncated to a network, or keyed-hashed."""

    FULL = "full"
    TRUNCATE = "truncate"
    HASH = "hash"


def _as_text(value: Any) -> str | None:
    """Return `value` as valid UTF-8 text (bytes decoded, lone surrogates replaced), or None
    for None and for an object whose `str()` raises."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except Exception:  # noqa: BLE001 - a caller's object with a broken __str__
            return None
    # Lone surrogates cannot be encoded; replacing them keeps the text storable.
    return text.encode("utf-8", "replace").decode("utf-8")


def normalize_reason(reason: Any) -> str:
    """Map a reason to the closed vocabulary; anything unknown is `other`."""
    text = _as_text(reason)
    if text is None:
        return "other"
    text = text[:32].strip().lower()
    return text if text in _REASON_SET else "other"


def normalize_source(source: Any) -> str:
    """Map an event source to `server` or `client` (anything else counts as `server`)."""
    return "client" if _as_text(source) == "client" else "server"


def normalize_site(site: Any, max_length: int = DEFAULT_MAX_SITE_LENGTH) -> str:
    """Return the site name, cut to `max_length` characters; empty or None is `unknown`.

    Quotes, backslashes, newlines and non-Latin text are kept exactly: they are stored in
    JSON fields and escaped by the exposition format, never spliced into key names raw.
    """
    text = _as_text(site)
    if text is None:
        return UNKNOWN_SITE
    text = text.replace("\x00", "")[:max_length]
    return text if text.strip() else UNKNOWN_SITE


def normalize_user_id(user_id: Any) -> str | None:
    """Return the user id as bounded text for logs, or None."""
    text = _as_text(user_id)
    return None if text is None else text[:MAX_USER_ID_LENGTH]


def hash_session_id(session_id: Any) -> str | None:
    """Return a 24-hex-digit digest of the session id, so raw ids never reach Redis or logs."""
    text = _as_text(session_id)
    if not text:
        return None
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12, person=b"sw-session").hexdigest()


def parse_ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse a client address; IPv4-mapped IPv6 becomes IPv4. Invalid input gives None."""
    text = _as_text(value)
    if not text or len(text) > 64:
        return None
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class IPPolicy:
    """Privacy transform applied to client addresses before anything stores or logs them.

    `truncate` keeps the IPv4 /24 and the IPv6 /48; `hash` keeps an HMAC-SHA256 of the address
    under `hash_key`, so the same address ranks together without being readable.
    """

    mode: IPMode = IPMode.TRUNCATE
    hash_key: bytes = b""
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48

    def __post_init__(self) -> None:
        if self.mode is IPMode.HASH and len(self.hash_key) < 16:
            raise ValueError(
                "ip mode 'hash' needs a hash key of at least 16 bytes "
                "(set SESSIONWATCH_IP_HASH_KEY or pass ip_hash_key)"
            )

    def apply(self, value: Any) -> str | None:
        """Return the stored form of a client address, or None when it is not an address."""
        address = parse_ip(value)
        if address is None:
            return None
        if self.mode is IPMode.FULL:
            return str(address)
        if self.mode is IPMode.HASH:
            digest = hmac.new(self.hash_key, address.packed, hashlib.sha256).hexdigest()
            return "h:" + digest[:20]
        prefix = self.ipv4_prefix if address.version == 4 else self.ipv6_prefix
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        return str(network)


def normalize_expiry(
    expires_at: Any, now: float, default_ttl: float, max_ahead: float = 366 * 86400
) -> float:
    """Return the session expiry as Unix seconds.

    Accepts Unix seconds (int or float) or an aware `datetime`. Values that are missing, not
    finite, before `now - 1 day` or more than `max_ahead` seconds ahead fall back to
    `now + default_ttl`, so one bad caller cannot pin a session in the active set forever.
    """
    seconds: float | None = None
    if isinstance(expires_at, datetime):
        if expires_at.tzinfo is not None:
            seconds = expires_at.timestamp()
    elif isinstance(expires_at, int | float) and not isinstance(expires_at, bool):
        try:
            seconds = float(expires_at)
        except OverflowError:  # an int beyond float range
            seconds = None
    if seconds is None or not math.isfinite(seconds):
        return now + default_ttl
    if seconds < now - 86400 or seconds > now + max_ahead:
        return now + default_ttl
    return seconds
