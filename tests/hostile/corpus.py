"""Hostile inputs that every entry point must survive: the recorder's arguments, the admin
API's query strings, the client-events bodies and the CLI's options.

`VALUES` contains (id, value) pairs of any Python type; the tests turn each into the form an
entry point receives (an argument as it is, a query string, a JSON field, a command-line
word). `RAW_BODIES` contains whole request bodies for the client-events endpoint. Together
they exceed 200 entries; `test_corpus_size` keeps it so.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

MEGABYTE = 1_000_000


class Unprintable:
    """An object whose `str()` and `repr()` raise, like a broken ORM proxy."""

    def __str__(self) -> str:
        raise RuntimeError("hostile __str__")

    def __repr__(self) -> str:
        raise RuntimeError("hostile __repr__")


class Unhashable:
    """An object that cannot be a dict key (a mutable value object, say)."""

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return "unhashable"


class Falsy:
    """An object whose truth test raises, like a numpy array of several elements."""

    def __bool__(self) -> bool:
        raise ValueError("truth value is ambiguous")


CONTROL_CHARACTERS = [(f"control-{code:02x}", f"a{chr(code)}b") for code in range(0x20)] + [
    ("control-7f", "a\x7fb"),
    ("control-c1-85", "a\x85b"),
    ("control-only-nul", "\x00"),
    ("control-crlf", "\r\n"),
]

LONG_STRINGS = [
    ("1mb-ascii", "x" * MEGABYTE),
    ("1mb-nul", "\x00" * MEGABYTE),
    ("1mb-accented", "é" * (MEGABYTE // 2)),
    ("1mb-emoji", "🙂" * (MEGABYTE // 4)),
    ("1mb-digits", "9" * MEGABYTE),
    ("64k-braces", "{}" * 32_768),
    ("10k-newlines", "\n" * 10_000),
    ("65-chars", "s" * 65),
    ("64-chars", "s" * 64),
    ("41-chars", "k" * 41),
]

INVALID_UTF8 = [
    ("utf8-ff", b"\xff"),
    ("utf8-fe-ff", b"\xfe\xff"),
    ("utf8-truncated-2", b"\xc3"),
    ("utf8-bad-continuation", b"\xc3\x28"),
    ("utf8-lone-continuation", b"\xa0\xa1"),
    ("utf8-truncated-3", b"\xe2\x82"),
    ("utf8-bad-3", b"\xe2\x28\xa1"),
    ("utf8-bad-4", b"\xf0\x28\x8c\xbc"),
    ("utf8-overlong-slash", b"\xc0\xaf"),
    ("utf8-overlong-nul", b"\xc0\x80"),
    ("utf8-5-byte", b"\xf8\x88\x80\x80\x80"),
    ("utf8-encoded-surrogate", b"\xed\xa0\x80"),
    ("utf8-beyond-unicode", b"\xf4\x90\x80\x80"),
    ("utf8-mixed", b"Lyon\xff\xfeParis"),
    ("bytes-valid", b"Lyon"),
    ("bytearray", bytearray(b"\xff\x00Lyon")),
    ("memoryview", memoryview(b"\xfe\xfd")),
    ("lone-high-surrogate", "\ud800"),
    ("lone-low-surrogate", "\udfff"),
    ("surrogate-in-text", "Ly\ud83don"),
]

UNICODE_ODDITIES = [
    ("rtl-override", "\u202eLyon"),
    ("zero-width-space", "Ly\u200bon"),
    ("bom", "\ufeffLyon"),
    ("combining-marks", "e" + "\u0301" * 1000),
    ("fullwidth-window", "\uff11\uff15\uff4d"),
    ("emoji-zwj", "👩‍👩‍👧‍👦"),
    ("line-separator", "a\u2028b"),
    ("paragraph-separator", "a\u2029b"),
    ("cyrillic-homoglyph-reason", "\u0435\u0445\u0440ir\u0435d"),
    ("private-use", "\ue000\uf8ff"),
    ("noncharacter", "\uffff\ufffe"),
    ("astral-plane", "\U0010ffff"),
    ("ideographic-space", "\u3000"),
    ("nbsp-only", "\xa0\xa0"),
    ("mixed-scripts", "Łódź-東京-القاهرة"),
]

INJECTION = [
    ("glob-star", "*"),
    ("glob-question", "?"),
    ("glob-class", "[a-z]"),
    ("open-brace", "{"),
    ("close-brace", "}"),
    ("hash-tag", "{sessionwatch}"),
    ("hash-tag-prefix", "{sessionwatch}:totals"),
    ("prefix-pattern", "sessionwatch:*"),
    ("resp-inline", "\r\nFLUSHALL\r\n"),
    ("resp-array", "*1\r\n$8\r\nFLUSHALL\r\n"),
    ("lua-quote", "'); redis.call('FLUSHALL') --"),
    ("lua-long-bracket", "]]..redis.call('FLUSHALL')..[["),
    ("format-percent", "%s%s%s%n"),
    ("format-braces", "{0}{1!r}{__class__}"),
    ("log-forging", "ok\n2026-01-01 INFO forged line"),
    ("html", "<script>alert(1)</script>"),
    ("path-traversal", "../../etc/passwd"),
    ("shell", "$(reboot)"),
    ("backticks", "`id`"),
    ("backslash", "\\"),
    ("double-quote", '"'),
    ("single-quote", "'"),
    ("percent-nul", "%00"),
    ("percent-ff", "%ff"),
    ("ampersand-query", "15m&by=site"),
    ("json-fragment", '{"a":1}'),
    ("jndi", "${jndi:ldap://127.0.0.1/x}"),
    ("colon-key", "a:b:c"),
    ("space-inside", "Grenoble Centre"),
    ("spaces-only", "   "),
    ("empty", ""),
    ("tab", "\t"),
    ("dash-option", "--help"),
    ("dash-dash", "--"),
    ("single-dash", "-"),
]

NUMBERS_AS_TEXT = [
    ("text-minus-one", "-1"),
    ("text-zero", "0"),
    ("text-one", "1"),
    ("text-501", "501"),
    ("text-huge-exponent", "1e400"),
    ("text-negative-exponent", "-1e400"),
    ("text-nan", "NaN"),
    ("text-infinity", "Infinity"),
    ("text-minus-infinity", "-Infinity"),
    ("text-float", "1.5"),
    ("text-float-int", "20.0"),
    ("text-hex", "0x10"),
    ("text-underscore", "1_000"),
    ("text-400-digits", "9" * 400),
    ("text-plus", "+15"),
    ("text-padded", " 20 "),
    ("text-window-space", "15m "),
    ("text-window-upper", "15M"),
    ("text-window-nul", "5m\x00"),
    ("text-window-days", "1d"),
    ("text-window-valid", "24h"),
    ("text-dimension-valid", "site"),
    ("text-dimension-upper", "IP"),
    ("text-reason-valid", "expired"),
    ("text-reason-padded", "  revoked  "),
    ("text-ipv4", "203.0.113.77"),
    ("text-ipv4-port", "203.0.113.77:443"),
    ("text-ipv4-mapped", "::ffff:203.0.113.77"),
    ("text-ipv6-zone", "fe80::1%eth0"),
    ("text-ipv6-bracketed", "[2001:db8::1]"),
    ("text-ipv4-octal", "0177.0.0.1"),
    ("text-ipv4-too-many", "1.2.3.4.5"),
    ("text-cidr", "10.0.0.0/8"),
    ("text-ipv4-huge-octet", "999.1.1.1"),
]

NON_STRINGS: list[tuple[str, Any]] = [
    ("none", None),
    ("true", True),
    ("false", False),
    ("int-zero", 0),
    ("int-minus-one", -1),
    ("int-2-63", 2**63),
    ("int-minus-2-63", -(2**63) - 1),
    ("int-10-400", 10**400),
    ("float-nan", math.nan),
    ("float-inf", math.inf),
    ("float-minus-inf", -math.inf),
    ("float-max", 1.7976931348623157e308),
    ("float-minus-zero", -0.0),
    ("float-tiny", 5e-324),
    ("float-for-int", 20.0),
    ("float-fraction", 1.5),
    ("decimal-nan", Decimal("NaN")),
    ("decimal-huge", Decimal("1e1000")),
    ("complex", complex(1, 2)),
    ("empty-list", []),
    ("list", ["Lyon", "Paris"]),
    ("empty-dict", {}),
    ("dict", {"site": "Lyon"}),
    ("tuple", ("Lyon",)),
    ("set", {"Lyon"}),
    ("object", object()),
    ("unprintable", Unprintable()),
    ("unhashable", Unhashable()),
    ("falsy-raises", Falsy()),
    ("type", str),
    ("function", len),
    ("nested-list", [[[[[]]]]]),
]

TIMESTAMPS: list[tuple[str, Any]] = [
    ("ts-minus-one", -1),
    ("ts-zero", 0),
    ("ts-int32-min", -(2**31)),
    ("ts-int32-max", 2**31 - 1),
    ("ts-int64-max", 2**63 - 1),
    ("ts-year-10000", 253_402_300_800),
    ("ts-1e20", 1e20),
    ("ts-minus-1e20", -1e20),
    ("ts-ms-instead-of-s", 1_800_000_000_000),
    ("ts-two-days-ago", datetime.now(UTC).timestamp() - 2 * 86_400),
    ("ts-in-two-years", datetime.now(UTC).timestamp() + 2 * 365 * 86_400),
    ("datetime-naive", datetime(2030, 1, 1)),
    ("datetime-aware-far", datetime(9999, 12, 31, tzinfo=UTC)),
    ("datetime-aware-past", datetime(1970, 1, 1, tzinfo=UTC)),
    ("timedelta", timedelta(hours=8)),
    ("ts-text", "2030-01-01T00:00:00Z"),
]

VALUES: list[tuple[str, Any]] = [
    *CONTROL_CHARACTERS, *LONG_STRINGS, *INVALID_UTF8, *UNICODE_ODDITIES, *INJECTION,
    *NUMBERS_AS_TEXT, *NON_STRINGS, *TIMESTAMPS,
]


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _event(event_id: str) -> dict[str, Any]:
    return {"id": event_id, "type": "refresh_failed", "reason": "network", "detail": "offline",
            "occurred_at": "__NOW_MINUS_30__"}


DUPLICATED_IDS = json.dumps({"events": [_event("duplicated-0001")] * 50,
                             "sent_at": "__NOW__"}).encode()

RAW_BODIES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("null", b"null"),
    ("list", b"[]"),
    ("object", b"{}"),
    ("number", b"1e400"),
    ("string", b'"events"'),
    ("bom-json", b"\xef\xbb\xbf{}"),
    ("utf16-json", '{"events": []}'.encode("utf-16")),
    ("invalid-utf8", b'{"events": [], "sent_at": "\xff"}'),
    ("truncated", b'{"events": [{"id": "abc'),
    ("trailing-garbage", b"{}garbage"),
    ("nested-100", _nested(100)),
    ("nested-1000", _nested(1000)),
    ("nested-8000", _nested(8000)),
    ("nested-objects", b'{"a":' * 2000 + b"1" + b"}" * 2000),
    ("nested-in-events", b'{"events": ' + _nested(3000) + b', "sent_at": 1}'),
    ("duplicate-keys", b'{"events": [], "events": [], "sent_at": 1, "sent_at": 2}'),
    ("nan-token", b'{"events": [], "sent_at": NaN}'),
    ("infinity-token", b'{"events": [], "sent_at": Infinity}'),
    ("huge-int-sent-at", b'{"events": [], "sent_at": 1' + b"0" * 5000 + b"}"),
    ("1mb-body", b'{"events": [], "sent_at": 1, "pad": "' + b"x" * MEGABYTE + b'"}'),
    ("duplicated-event-ids", DUPLICATED_IDS),
]
