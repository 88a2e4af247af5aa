"""Key schema: prefix validation, key-safe site parts, counter fields and hash tags."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sessionwatch.api_hooks.keys import (
    DAY,
    HOUR,
    KeySchema,
    RetentionConfig,
    counter_field,
    parse_counter_field,
    site_key_part,
    validate_prefix,
)
from sessionwatch.api_hooks.normalize import normalize_site
from sessionwatch.api_hooks.scripts import hash_tag

KEY_SAFE_PART = re.compile(r"[A-Za-z0-9_.~-]{1,40}")


@pytest.mark.parametrize("prefix", ["sessionwatch", "a", "shop:prod", "t1-x.y_z", "p" * 64])
def test_validate_prefix_accepts_key_safe_names(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix
    assert KeySchema(prefix).prefix == prefix


@pytest.mark.parametrize("prefix", ["", "a b", "a{b", "a}b", "p" * 65, "café", "a*", "a\n"])
def test_validate_prefix_rejects_unsafe_names(prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid key prefix"):
        validate_prefix(prefix)


@pytest.mark.parametrize("shards", [0, 1025, -1])
def test_key_schema_rejects_shard_count(shards: int) -> None:
    with pytest.raises(ValueError, match="active_shards"):
        KeySchema("p", shards)


@pytest.mark.parametrize(("site", "plain"), [
    ("Lyon", True),
    ("shop-2.eu_west", True),
    ("x" * 40, True),
    ("x" * 41, False),
    ('a"b', False),
    ("c\\", False),
    ("line1\nline2", False),
    ("тест ✓ 🙂", False),
    ("a:b", False),
    ("a{b}", False),
    ("a*", False),
])
def test_site_key_part_plain_only_when_safe(site: str, plain: bool) -> None:
    part = site_key_part(site)

    assert KEY_SAFE_PART.fullmatch(part)
    assert (part == site) is plain


def test_site_key_part_distinguishes_sites() -> None:
    assert site_key_part('a"b') != site_key_part("a'b")
    assert site_key_part('a"b') == site_key_part('a"b')


@given(st.one_of(st.text(), st.binary(), st.none()))
def test_site_key_part_key_safe_for_any_site(value: Any) -> None:
    assert KEY_SAFE_PART.fullmatch(site_key_part(normalize_site(value)))


@given(st.lists(st.text(max_size=80), min_size=1, max_size=5))
def test_counter_field_round_trips(parts: list[str]) -> None:
    assert parse_counter_field(counter_field(*parts)) == parts
    assert parse_counter_field(counter_field(*parts).encode("utf-8")) == parts


@pytest.mark.parametrize("field", ["", "not json", "{}", "[]", "[1, 2]", '"text"', b"\xff\xfe",
                                   '["a", null]'])
def test_parse_counter_field_rejects_foreign_fields(field: str | bytes) -> None:
    assert parse_counter_field(field) is None


def test_key_schema_builds_documented_names() -> None:
    schema = KeySchema("sw", active_shards=4)
    minute = 29_940_243
    hour = minute // 60

    assert schema.totals() == "{sw}:totals"
    assert schema.minute_counts(minute) == f"{{sw:h{hour}}}:m{minute}:counts"
    assert schema.hour_counts(hour) == f"{{sw:h{hour}}}:counts"
    assert schema.minute_ranking("ip", minute) == f"{{sw:h{hour}}}:m{minute}:top:ip"
    assert schema.hour_ranking("site", hour) == f"{{sw:h{hour}}}:top:site"
    assert schema.active_expiry(3) == "{sw:a3}:expiry"
    assert schema.active_site_of(3) == "{sw:a3}:site_of"
    assert schema.active_sites(3) == "{sw:a3}:sites"
    assert schema.active_site(3, "Lyon") == "{sw:a3}:site:Lyon"


def test_key_schema_event_keys_share_hash_tag() -> None:
    schema = KeySchema("sw")
    minute = 29_940_243
    hour = minute // 60
    keys = [schema.minute_counts(minute), schema.hour_counts(hour),
            schema.minute_ranking("ip", minute), schema.hour_ranking("reason", hour)]

    assert {hash_tag(key) for key in keys} == {f"sw:h{hour}"}
    assert hash_tag(schema.scratch(hour)) == f"sw:h{hour}"


def test_key_schema_active_shard_in_range() -> None:
    schema = KeySchema("sw", active_shards=7)
    digests = [f"{n:08x}" + "0" * 16 for n in range(0, 2**32, 2**32 // 1000)]

    shards = {schema.active_shard(digest) for digest in digests}

    assert shards == set(range(7))


def test_all_keys_pattern_excludes_longer_prefixes() -> None:
    pattern = KeySchema("p").all_keys_pattern()

    assert fnmatchcase("{p}:totals", pattern)
    assert fnmatchcase("{p:h1}:counts", pattern)
    assert fnmatchcase("{p:a0}:expiry", pattern)
    assert not fnmatchcase("{p2}:totals", pattern)
    assert not fnmatchcase("{p2:h1}:counts", pattern)


def test_bucket_pattern_matches_only_buckets() -> None:
    schema = KeySchema("p")
    pattern = schema.bucket_pattern()

    assert fnmatchcase(schema.minute_counts(60), pattern)
    assert fnmatchcase(schema.hour_ranking("ip", 1), pattern)
    assert not fnmatchcase(schema.totals(), pattern)
    assert not fnmatchcase(schema.active_expiry(0), pattern)


@pytest.mark.parametrize(("changes", "message"), [
    ({"minute_seconds": HOUR - 1}, "minute retention"),
    ({"hour_seconds": 7 * DAY - 1}, "hour retention"),
    ({"ip_seconds": HOUR - 1}, "IP retention"),
])
def test_retention_config_rejects_short_retention(changes: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetentionConfig(**changes)
