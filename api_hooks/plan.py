"""Turn session events into the Redis writes they imply, without doing any I/O.

A `WriteBatch` holds the counter and ranking increments of one or many events, merged by key,
plus the active-session updates. The direct recorder writes one event's batch at once; the
buffered recorder merges many events into one batch per flush. Both send it with
`scripts.batch_commands`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .keys import HOUR, MINUTE, KeySchema, RetentionConfig, counter_field, site_key_part


@dataclass
class KeyUpdate:
    """Increments for one HASH (`kind` "h") or ranking ZSET (`kind` "z")."""

    kind: str
    expire_at: int
    cap: int
    increments: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ActiveUpdate:
    """One change to the active-session index: "touch" (start or extend) or "end"."""

    op: str
    shard: int
    session_hash: str
    expires_at: float = 0.0
    site: str = ""


@dataclass
class WriteBatch:
    """Increments merged by key, and active-session updates in call order."""

    updates: dict[str, KeyUpdate] = field(default_factory=dict)
    active: list[ActiveUpdate] = field(default_factory=list)
    events: int = 0

    def increment(self, kind: str, key: str, member: str, amount: int, expire_at: int,
                  cap: int = 0) -> None:
        update = self.updates.get(key)
        if update is None:
            update = self.updates[key] = KeyUpdate(kind, expire_at, cap)
        update.increments[member] = update.increments.get(member, 0) + amount

    def merge(self, other: WriteBatch) -> None:
        """Add `other`'s increments and active updates to this batch."""
        for key, update in other.updates.items():
            for member, amount in update.increments.items():
                self.increment(update.kind, key, member, amount, update.expire_at, update.cap)
        self.active.extend(other.active)
        self.events += other.events

    def __bool__(self) -> bool:
        return bool(self.updates or self.active)


class EventPlanner:
    """Compute the writes of each event kind for one key schema and retention policy."""

    def __init__(self, schema: KeySchema, retention: RetentionConfig, ranking_cap: int) -> None:
        if ranking_cap < 1:
            raise ValueError(f"ranking_cap must be at least 1, got {ranking_cap}")
        self.schema = schema
        self.retention = retention
        self.ranking_cap = ranking_cap

    def count(self, batch: WriteBatch, at: float, parts: tuple[str, ...], amount: int = 1) -> None:
        """Add `amount` to the counter `parts` in the totals, its minute and its hour bucket."""
        minute, hour = int(at // MINUTE), int(at // HOUR)
        name = counter_field(*parts)
        schema, retention = self.schema, self.retention
        batch.increment("h", schema.totals(), name, amount, 0)
        batch.increment(
            "h", schema.minute_counts(minute), name, amount,
            (minute + 1) * MINUTE + retention.minute_seconds,
        )
        batch.increment(
            "h", schema.hour_counts(hour), name, amount,
            (hour + 1) * HOUR + retention.hour_seconds,
        )

    def rank(self, batch: WriteBatch, at: float, dimension: str, member: str,
             amount: int = 1) -> None:
        """Add `amount` to `member` in the minute and hour failure rankings of `dimension`."""
        minute, hour = int(at // MINUTE), int(at // HOUR)
        retention = self.retention
        minute_expiry = (minute + 1) * MINUTE + retention.minute_seconds
        hour_expiry = (hour + 1) * HOUR + retention.hour_seconds
        if dimension == "ip":
            # An address may be kept at most `ip_seconds` after its event, so the expiry of
            # an address ranking counts from the start of its bucket, not from its end.
            minute_expiry = min(minute_expiry, minute * MINUTE + retention.ip_seconds)
            hour_expiry = hour * HOUR + retention.ip_seconds
        batch.increment(
            "z", self.schema.minute_ranking(dimension, minute), member, amount,
            minute_expiry, self.ranking_cap,
        )
        batch.increment(
            "z", self.schema.hour_ranking(dimension, hour), member, amount,
            hour_expiry, self.ranking_cap,
        )

    def failure(self, batch: WriteBatch, at: float, site: str, reason: str, source: str,
                ip: str | None, amount: int = 1) -> None:
        self.count(batch, at, ("failure", site, reason, source), amount)
        self.rank(batch, at, "site", site, amount)
        self.rank(batch, at, "reason", reason, amount)
        if ip is not None:
            self.rank(batch, at, "ip", ip, amount)
        # Every ranked failure bumps its buckets' versions, in the same script call, so a
        # reader that cached a closed ranking sees a late write to it.
        minute, hour = int(at // MINUTE), int(at // HOUR)
        retention = self.retention
        expiry = (hour + 1) * HOUR + max(retention.hour_seconds, retention.ip_seconds)
        versions = self.schema.ranking_versions(hour)
        batch.increment("h", versions, "h", amount, expiry)
        batch.increment("h", versions, f"m{minute}", amount, expiry)

    def touch(self, batch: WriteBatch, session_hash: str, expires_at: float, site: str) -> None:
        shard = self.schema.active_shard(session_hash)
        batch.active.append(ActiveUpdate("touch", shard, session_hash, expires_at, site))

    def end(self, batch: WriteBatch, session_hash: str) -> None:
        shard = self.schema.active_shard(session_hash)
        batch.active.append(ActiveUpdate("end", shard, session_hash))

    def active_args(self, update: ActiveUpdate, now: float, trim_limit: int
                    ) -> tuple[list[str], list[str | int | float]]:
        """Return KEYS and ARGV of update_active.lua for one active-session update."""
        schema = self.schema
        keys = [
            schema.active_expiry(update.shard),
            schema.active_site_of(update.shard),
            schema.active_sites(update.shard),
        ]
        part = site_key_part(update.site) if update.op == "touch" else ""
        args: list[str | int | float] = [
            update.op, repr(now), update.session_hash, repr(update.expires_at),
            part, update.site, schema.active_site_base(update.shard), trim_limit,
        ]
        return keys, args
