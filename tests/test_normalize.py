"""Normalisers: table-driven cases and hypothesis properties (total, bounded output)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sessionwatch.api_hooks.normalize import (
    DEFAULT_MAX_SITE_LENGTH,
    REASONS,
    UNKNOWN_SITE,
    IPMode,
    IPPolicy,
    hash_session_id,
    normalize_expiry,
    normalize_reason,
    normalize_site,
    normalize_source,
    normalize_user_id,
    parse_ip,
)

HASH_KEY = b"0123456789abcdef"

# Anything a caller might pass where a string is expected.
any_value = st.one_of(
    st.none(), st.text(), st.binary(), st.integers(), st.floats(), st.booleans(),
    st.text(alphabet=st.characters(), min_size=5000, max_size=12000),
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("expired", "expired"),
    ("EXPIRED", "expired"),
    ("  revoked  ", "revoked"),
    ("rate_limited", "rate_limited"),
    ("server_error", "server_error"),
    ("logout", "other"),
    ("", "other"),
    (None, "other"),
    (42, "other"),
    (b"network", "network"),
    (b"\xff\xfe", "other"),
    pytest.param("expired" + "x" * 10_000, "other", id="10k-chars"),
])
def test_normalize_reason_maps_to_vocabulary(raw: Any, expected: str) -> None:
    assert normalize_reason(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Lyon", "Lyon"),
    ('a"b', 'a"b'),
    ("c\\", "c\\"),
    ("line1\nline2", "line1\nline2"),
    ("тест ✓ 🙂", "тест ✓ 🙂"),
    ("", UNKNOWN_SITE),
    ("   ", UNKNOWN_SITE),
    (None, UNKNOWN_SITE),
    ("a\x00b", "ab"),
    ("\x00", UNKNOWN_SITE),
    (b"Lyon", "Lyon"),
    (b"L\xffyon", "L\ufffdyon"),
    ("\ud800lone", "?lone"),
    (7, "7"),
    pytest.param("x" * 10_000, "x" * DEFAULT_MAX_SITE_LENGTH, id="10k-chars"),
])
def test_normalize_site_keeps_text_and_bounds_it(raw: Any, expected: str) -> None:
    assert normalize_site(raw) == expected


def test_normalize_site_honours_max_length() -> None:
    assert normalize_site("abcdef", max_length=3) == "abc"


@pytest.mark.parametrize(("raw", "expected"), [
    ("client", "client"),
    ("server", "server"),
    ("CLIENT", "server"),
    (None, "server"),
    (b"client", "client"),
])
def test_normalize_source_defaults_to_server(raw: Any, expected: str) -> None:
    assert normalize_source(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("203.0.113.77", "203.0.113.77"),
    (" 203.0.113.77 ", "203.0.113.77"),
    ("::ffff:203.0.113.77", "203.0.113.77"),
    ("[2001:db8::1]", "2001:db8::1"),
    ("fe80::1%eth0", "fe80::1"),
    ("2001:DB8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"),
    (b"198.51.100.1", "198.51.100.1"),
    ("203.0.113.256", None),
    ("203.0.113.77:8080", None),
    ("unknown", None),
    ("", None),
    (None, None),
    ("1" * 65, None),
    (12345, None),
])
def test_parse_ip_accepts_addresses_only(raw: Any, expected: str | None) -> None:
    parsed = parse_ip(raw)
    assert (None if parsed is None else str(parsed)) == expected


@pytest.mark.parametrize(("mode", "raw", "expected"), [
    (IPMode.TRUNCATE, "203.0.113.77", "203.0.113.0/24"),
    (IPMode.TRUNCATE, "::ffff:203.0.113.77", "203.0.113.0/24"),
    (IPMode.TRUNCATE, "2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"),
    (IPMode.FULL, "203.0.113.77", "203.0.113.77"),
    (IPMode.FULL, "::ffff:203.0.113.77", "203.0.113.77"),
    (IPMode.TRUNCATE, "garbage", None),
    (IPMode.FULL, None, None),
])
def test_ip_policy_applies_mode(mode: IPMode, raw: Any, expected: str | None) -> None:
    assert IPPolicy(mode).apply(raw) == expected


def test_ip_policy_hash_is_keyed_and_stable() -> None:
    policy = IPPolicy(IPMode.HASH, HASH_KEY)
    other_key = IPPolicy(IPMode.HASH, b"fedcba9876543210")

    stored = policy.apply("203.0.113.77")

    assert stored is not None
    assert stored.startswith("h:")
    assert len(stored) == 22
    assert "203.0.113" not in stored
    assert policy.apply("::ffff:203.0.113.77") == stored
    assert other_key.apply("203.0.113.77") != stored
    assert policy.apply("203.0.113.78") != stored


def test_ip_policy_hash_rejects_short_key() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        IPPolicy(IPMode.HASH, b"short")


def test_hash_session_id_digests_and_skips_empty() -> None:
    digest = hash_session_id("session-1")

    assert digest is not None
    assert len(digest) == 24
    assert int(digest, 16) >= 0
    assert hash_session_id("session-1") == digest
    assert hash_session_id(b"session-1") == digest
    assert hash_session_id("session-2") != digest
    assert hash_session_id("") is None
    assert hash_session_id(None) is None


NOW = 1_800_000_000.0


@pytest.mark.parametrize(("raw", "expected"), [
    (NOW + 600, NOW + 600),
    (int(NOW) + 600, NOW + 600),
    (datetime.fromtimestamp(NOW + 600, UTC), NOW + 600),
    (datetime.fromtimestamp(NOW + 600, UTC).replace(tzinfo=None), NOW + 60),
    (None, NOW + 60),
    ("1800000600", NOW + 60),
    (True, NOW + 60),
    (math.nan, NOW + 60),
    (math.inf, NOW + 60),
    (NOW - 2 * 86400, NOW + 60),
    (NOW + 400 * 86400, NOW + 60),
    pytest.param(10**400, NOW + 60, id="int-beyond-float"),
])
def test_normalize_expiry_falls_back_to_default_ttl(raw: Any, expected: float) -> None:
    assert normalize_expiry(raw, NOW, 60) == expected


def test_normalize_user_id_bounds_length() -> None:
    assert normalize_user_id("u" * 1000) == "u" * 128
    assert normalize_user_id(None) is None
    assert normalize_user_id(17) == "17"


@given(any_value)
def test_normalize_site_total_and_bounded(value: Any) -> None:
    site = normalize_site(value)

    assert isinstance(site, str)
    assert 1 <= len(site) <= DEFAULT_MAX_SITE_LENGTH
    assert "\x00" not in site
    site.encode("utf-8")


@given(any_value)
def test_normalize_reason_total_and_closed(value: Any) -> None:
    assert normalize_reason(value) in REASONS


@given(any_value)
def test_hash_session_id_total_and_fixed_size(value: Any) -> None:
    digest = hash_session_id(value)

    assert digest is None or (len(digest) == 24 and set(digest) <= set("0123456789abcdef"))


@given(any_value, st.sampled_from([IPMode.FULL, IPMode.TRUNCATE, IPMode.HASH]))
def test_ip_policy_total_and_bounded(value: Any, mode: IPMode) -> None:
    stored = IPPolicy(mode, HASH_KEY).apply(value)

    assert stored is None or 1 <= len(stored) <= 64


@given(st.ip_addresses())
def test_ip_policy_truncate_never_keeps_host_bits(address: Any) -> None:
    stored = IPPolicy(IPMode.TRUNCATE).apply(str(address))

    assert stored is not None
    assert stored.endswith("/24") or stored.endswith("/48")


@given(st.one_of(any_value, st.datetimes(), st.datetimes(timezones=st.just(UTC))))
def test_normalize_expiry_total_and_bounded(value: Any) -> None:
    expiry = normalize_expiry(value, NOW, 60)

    assert math.isfinite(expiry)
    assert NOW - 86400 <= expiry <= NOW + 366 * 86400
