"""Redis key schema of sessionwatch: every key name is built here and nowhere else.

All keys start with the configurable prefix `P` (default ``sessionwatch``) inside a Redis
Cluster hash tag, so the keys one script touches share a slot while different hours and
different active-set shards spread over the cluster.

Keys (type; expiry; content):

- ``{P}:totals`` HASH; never; cumulative counters.
- ``{P:h<H>}:m<M>:counts`` HASH; minute end + minute retention; counters of one minute.
- ``{P:h<H>}:counts`` HASH; hour end + hour retention; counters of one hour.
- ``{P:h<H>}:m<M>:top:<dim>`` ZSET; minute end + minute retention; failure ranking.
- ``{P:h<H>}:top:<dim>`` ZSET; hour end + hour retention; failure ranking.
- ``{P:a<N>}:expiry`` ZSET; never, expired members trimmed; session digest -> expiry.
- ``{P:a<N>}:site_of`` HASH; never, fields trimmed; session digest -> site key part.
- ``{P:a<N>}:site:<part>`` ZSET; never, members trimmed; active sessions of one site.
- ``{P:a<N>}:sites`` HASH; never, fields trimmed; site key part -> site name.
- ``{P}:client:seen:<event id digest>`` STRING; client-event dedupe window; dedupe marker.
- ``{P}:client:rate:<session digest>:<M>`` STRING; 2 minutes; client-event rate limit.
- ``{P}:tmp:<random>`` ZSET; deleted by the script that made it; ranking union.
- ``{P:h<H>}:versions`` HASH; as the hour's rankings; failures ranked per bucket (``h`` for
  the hour, ``m<M>`` per minute), so a cached ranking can be checked for late writes.
- ``{P}:labelled_sites`` SET; never; sites that have their own ``site`` label in the
  exporter's metrics (the others are folded into ``other``).
- ``{<tag>}:done:<write id>`` STRING; 5 minutes; marks a buffered write as applied, so a
  retry after a lost reply does not count twice (``<tag>`` is the hash tag of its keys).

Address rankings (``<dim>`` = ``ip``) expire sooner: at most IP retention after the start of
their bucket, so no address outlives the IP retention.

``H`` is the hour number (Unix seconds // 3600), ``M`` the minute number (Unix seconds // 60),
both in Redis server time; ``N`` is the active-set shard (session hash modulo the shard count).
``<dim>`` is ``ip``, ``site`` or ``reason``.

Counter fields are JSON arrays, so any site string round-trips without escaping rules:
``["success", site]``, ``["failure", site, reason, source]``, ``["forced", site, reason]``,
``["started", site]`` and ``["ended", site]``.

Writers: the recorder (`sessionwatch.api_hooks`) writes every key except ``tmp``; the
client-events router writes the ``client`` keys. Readers: the exporter, its JSON API and the
``session-stats`` CLI (`sessionwatch.exporter.reader`). The retention figures are
`RetentionConfig`'s; docs/key-schema.md repeats this table with the defaults.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

DEFAULT_PREFIX = "sessionwatch"

MINUTE = 60
HOUR = 3600
DAY = 86400

RANKING_DIMENSIONS = ("ip", "site", "reason")

# Site names that are safe to show in a key as they are; anything else goes in hashed.
_PLAIN_KEY_PART = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_PREFIX_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@dataclass(frozen=True)
class RetentionConfig:
    """How long each family of bucket keys lives after its bucket ends, in seconds."""

    minute_seconds: int = HOUR + 5 * MINUTE
    hour_seconds: int = 7 * DAY + HOUR
    ip_seconds: int = 7 * DAY

    def __post_init__(self) -> None:
        if self.minute_seconds < HOUR:
            raise ValueError(
                f"minute retention must be at least 3600 s to serve the 1h window, "
                f"got {self.minute_seconds}"
            )
        if self.hour_seconds < 7 * DAY:
            raise ValueError(
                f"hour retention must be at least 604800 s to serve the 7d window, "
                f"got {self.hour_seconds}"
            )
        if self.ip_seconds < HOUR:
            raise ValueError(f"IP retention must be at least 3600 s, got {self.ip_seconds}")


def validate_prefix(prefix: str) -> str:
    """Return the prefix unchanged, or raise ValueError if it cannot start a key name."""
    if not _PREFIX_PATTERN.fullmatch(prefix) or "{" in prefix or "}" in prefix:
        raise ValueError(
            f"invalid key prefix {prefix!r}: use 1 to 64 characters among letters, "
            "digits, '_', '.', ':' and '-'"
        )
    return prefix


def site_key_part(site: str) -> str:
    """Return the key-safe form of a normalised site name (plain when short and simple)."""
    if _PLAIN_KEY_PART.fullmatch(site):
        return site
    return "~" + hashlib.blake2b(site.encode("utf-8"), digest_size=8).hexdigest()


def counter_field(*parts: str) -> str:
    """Encode a counter field (kind, site, ...) as a compact JSON array."""
    return json.dumps(parts, ensure_ascii=False, separators=(",", ":"))


def parse_counter_field(field: str | bytes) -> list[str] | None:
    """Decode a counter field, or return None if it is not one that this version wrote."""
    try:
        parts = json.loads(field)
    except ValueError:
        return None
    if not isinstance(parts, list) or not parts or not all(isinstance(p, str) for p in parts):
        return None
    return parts


@dataclass(frozen=True)
class KeySchema:
    """Builds every Redis key name for one prefix and active-set shard count."""

    prefix: str = DEFAULT_PREFIX
    active_shards: int = 1

    def __post_init__(self) -> None:
        validate_prefix(self.prefix)
        if not 1 <= self.active_shards <= 1024:
            raise ValueError(
                f"active_shards must be between 1 and 1024, got {self.active_shards}"
            )

    # Cumulative counters

    def totals(self) -> str:
        return f"{{{self.prefix}}}:totals"

    # Time buckets, grouped by hour so one event's bucket writes share a slot

    def _hour_tag(self, hour: int) -> str:
        return f"{{{self.prefix}:h{hour}}}"

    def minute_counts(self, minute: int) -> str:
        return f"{self._hour_tag(minute // 60)}:m{minute}:counts"

    def hour_counts(self, hour: int) -> str:
        return f"{self._hour_tag(hour)}:counts"

    def minute_ranking(self, dimension: str, minute: int) -> str:
        return f"{self._hour_tag(minute // 60)}:m{minute}:top:{dimension}"

    def hour_ranking(self, dimension: str, hour: int) -> str:
        return f"{self._hour_tag(hour)}:top:{dimension}"

    def ranking_versions(self, hour: int) -> str:
        """Return the HASH counting failures ranked per bucket of `hour` (fields ``h`` and
        ``m<M>``), which tells a reader's cache whether a closed ranking changed."""
        return f"{self._hour_tag(hour)}:versions"

    def bucket_pattern(self) -> str:
        """Return a SCAN pattern matching every time-bucket key."""
        return f"{{{self.prefix}:h*}}:*"

    # Active sessions, sharded by session hash

    def active_shard(self, session_hash: str) -> int:
        return int(session_hash[:8], 16) % self.active_shards

    def _active_tag(self, shard: int) -> str:
        return f"{{{self.prefix}:a{shard}}}"

    def active_expiry(self, shard: int) -> str:
        return f"{self._active_tag(shard)}:expiry"

    def active_site_of(self, shard: int) -> str:
        return f"{self._active_tag(shard)}:site_of"

    def active_sites(self, shard: int) -> str:
        return f"{self._active_tag(shard)}:sites"

    def active_site_base(self, shard: int) -> str:
        """Return the name that `active_site` appends a site part to (Lua derives keys from it)."""
        return f"{self._active_tag(shard)}:site:"

    def active_site(self, shard: int, site_part: str) -> str:
        return self.active_site_base(shard) + site_part

    def labelled_sites(self) -> str:
        return f"{{{self.prefix}}}:labelled_sites"

    # Client events (browser-reported failures)

    def client_event_seen(self, event_id_hash: str) -> str:
        return f"{{{self.prefix}}}:client:seen:{event_id_hash}"

    def client_rate(self, session_hash: str, minute: int) -> str:
        return f"{{{self.prefix}}}:client:rate:{session_hash}:{minute}"

    # Markers of applied buffered writes (idempotent retries)

    def write_marker(self, hash_tag: str, write_id: str) -> str:
        """Return the marker key of write `write_id` in the slot of `hash_tag`."""
        return f"{{{hash_tag}}}:done:{write_id}"

    # Scratch keys for server-side ranking unions

    def scratch(self, hour_tag_of: int | None = None) -> str:
        """Return a fresh scratch key, in the slot of `hour_tag_of` when given."""
        tag = self._hour_tag(hour_tag_of) if hour_tag_of is not None else f"{{{self.prefix}}}"
        return f"{tag}:tmp:{secrets.token_hex(8)}"

    def all_keys_pattern(self) -> str:
        """Return a SCAN pattern for every key of this prefix (tests, audits)."""
        return f"{{{self.prefix}[:}}]*"
