"""Read back everything stored under a key prefix, for audits in tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import redis
from sessionwatch.api_hooks.keys import KeySchema


@dataclass(frozen=True)
class StoredKey:
    """One key under the prefix: its type, TTL in seconds (-1 = none) and raw content."""

    name: bytes
    type: str
    ttl: int
    fields: list[bytes]
    values: list[bytes]

    def texts(self) -> list[str]:
        """Return the key name, fields and values as text (invalid UTF-8 replaced)."""
        return [part.decode("utf-8", "replace")
                for part in (self.name, *self.fields, *self.values)]


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def dump_prefix(client: redis.Redis, prefix: str) -> list[StoredKey]:
    """Return every key of `prefix` with its TTL and content."""
    stored = []
    for name in client.scan_iter(match=KeySchema(prefix).all_keys_pattern(), count=1000):
        raw_name = _bytes(name)
        kind = _bytes(client.type(raw_name)).decode()
        fields: list[bytes] = []
        values: list[bytes] = []
        if kind == "hash":
            for field, value in client.hgetall(raw_name).items():
                fields.append(_bytes(field))
                values.append(_bytes(value))
        elif kind == "zset":
            for member, score in client.zrange(raw_name, 0, -1, withscores=True):
                fields.append(_bytes(member))
                values.append(repr(score).encode())
        elif kind == "string":
            values.append(_bytes(client.get(raw_name) or b""))
        stored.append(StoredKey(raw_name, kind, int(client.ttl(raw_name)), fields, values))
    return stored


def may_lack_expiry(schema: KeySchema, name: bytes) -> bool:
    """Return True for the keys the schema lets live forever: totals and active-set keys."""
    text = name.decode("utf-8", "replace")
    active = re.compile(re.escape(f"{{{schema.prefix}:a") + r"\d+\}:")
    return text == schema.totals() or active.match(text) is not None
