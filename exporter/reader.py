"""Read session statistics from the recorder's Redis keys, in a bounded number of round trips.

The exporter's collector, its JSON API and the `session-stats` CLI all read through
`SessionStatsReader`, so each number is computed in exactly one way.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass, field

import redis
from redis.exceptions import NoScriptError
from sessionwatch.api_hooks.clock import ServerClock
from sessionwatch.api_hooks.connection import is_cluster
from sessionwatch.api_hooks.keys import KeySchema, parse_counter_field
from sessionwatch.api_hooks.normalize import REASONS
from sessionwatch.api_hooks.scripts import LuaScript, sync_clock

from .ranking_cache import RankingCache
from .windows import Window

TOP_PAGE = LuaScript.load("top_page")
LABEL_SITES = LuaScript.load("label_sites")
MAX_PAGE_SIZE = 500


@functools.lru_cache(maxsize=65_536)
def _counter_parts(raw_field: bytes | str) -> tuple[str, ...] | None:
    """Decode a counter field, with a cache: the same fields recur in every bucket and every
    scrape, and decoding their JSON took most of a scrape's time."""
    parts = parse_counter_field(raw_field)
    return None if parts is None else tuple(parts)


@dataclass
class EventCounts:
    """Counters summed over a set of buckets (or the all-time totals)."""

    success: Counter[str] = field(default_factory=Counter)
    failure: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    forced: Counter[tuple[str, str]] = field(default_factory=Counter)
    started: Counter[str] = field(default_factory=Counter)
    ended: Counter[str] = field(default_factory=Counter)

    def add_hash(self, fields: dict[bytes, bytes]) -> None:
        """Add the counters of one Redis HASH; fields this version does not know are ignored."""
        for raw_field, raw_value in fields.items():
            parts = _counter_parts(raw_field)
            if parts is None:
                continue
            try:
                value = int(raw_value)
            except ValueError:
                continue
            kind = parts[0]
            if kind == "success" and len(parts) == 2:
                self.success[parts[1]] += value
            elif kind == "failure" and len(parts) == 4:
                self.failure[(parts[1], parts[2], parts[3])] += value
            elif kind == "forced" and len(parts) == 3:
                self.forced[(parts[1], parts[2])] += value
            elif kind == "started" and len(parts) == 2:
                self.started[parts[1]] += value
            elif kind == "ended" and len(parts) == 2:
                self.ended[parts[1]] += value

    @property
    def success_total(self) -> int:
        return sum(self.success.values())

    @property
    def failure_total(self) -> int:
        return sum(self.failure.values())

    @property
    def forced_total(self) -> int:
        return sum(self.forced.values())

    def failure_ratio(self) -> float | None:
        """Failures / (successes + failures), or None when there was no refresh."""
        attempts = self.success_total + self.failure_total
        return self.failure_total / attempts if attempts else None

    def failures_by_reason(self) -> dict[str, int]:
        by_reason = dict.fromkeys(REASONS, 0)
        for (_, reason, _), value in self.failure.items():
            by_reason[reason] = by_reason.get(reason, 0) + value
        return by_reason

    def forced_by_reason(self) -> dict[str, int]:
        by_reason: Counter[str] = Counter()
        for (_, reason), value in self.forced.items():
            by_reason[reason] += value
        return dict(by_reason)


@dataclass(frozen=True)
class ActiveSessions:
    total: int
    by_site: dict[str, int]


@dataclass(frozen=True)
class RankingPage:
    items: list[tuple[str, int]]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        following = self.offset + len(self.items)
        return following if following < self.total and self.items else None


@dataclass(frozen=True)
class TimePoint:
    start: int
    counts: EventCounts


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class SessionStatsReader:
    """Queries over one prefix's keys; every method raises redis errors to its caller."""

    def __init__(self, client: redis.Redis, schema: KeySchema,
                 clock: ServerClock | None = None) -> None:
        self.client = client
        self.schema = schema
        self.clock = clock or ServerClock()
        self._cluster = is_cluster(client)
        self._rankings = RankingCache(client)

    def now(self) -> float:
        """Return Redis server time, re-measuring the clock offset once a minute."""
        if self.clock.needs_sync():
            sync_clock(self.client, self.clock)
        return float(self.clock.now())

    def ping(self) -> None:
        self.client.ping()

    # Counters

    def totals(self) -> EventCounts:
        counts = EventCounts()
        counts.add_hash(self.client.hgetall(self.schema.totals()))  # type: ignore[arg-type]
        return counts

    def _bucket_keys(self, window: Window, now: float) -> list[tuple[int, str]]:
        numbers = window.bucket_numbers(now)
        if window.step == 60:
            return [(n * 60, self.schema.minute_counts(n)) for n in numbers]
        return [(n * 3600, self.schema.hour_counts(n)) for n in numbers]

    def timeseries(self, window: Window, now: float | None = None) -> list[TimePoint]:
        """Return the counters of each bucket of `window`, oldest first (one round trip)."""
        now = self.now() if now is None else now
        buckets = self._bucket_keys(window, now)
        pipe = self.client.pipeline(transaction=False)
        for _, key in buckets:
            pipe.hgetall(key)
        points = []
        for (start, _), fields in zip(buckets, pipe.execute(), strict=True):
            counts = EventCounts()
            counts.add_hash(fields)
            points.append(TimePoint(start, counts))
        return points

    def window_counts(self, window: Window, now: float | None = None) -> EventCounts:
        """Return the counters summed over the buckets of `window` (one round trip)."""
        total = EventCounts()
        for point in self.timeseries(window, now):
            for name in ("success", "failure", "forced", "started", "ended"):
                getattr(total, name).update(getattr(point.counts, name))
        return total

    # Active sessions

    def active(self, now: float | None = None) -> ActiveSessions:
        """Count sessions whose expiry is after `now`, in total and per site (two round trips)."""
        now = self.now() if now is None else now
        shards = range(self.schema.active_shards)
        pipe = self.client.pipeline(transaction=False)
        for shard in shards:
            pipe.zcount(self.schema.active_expiry(shard), f"({now}", "+inf")
            pipe.hgetall(self.schema.active_sites(shard))
        replies = pipe.execute()
        total = sum(int(count) for count in replies[0::2])

        site_names: list[tuple[int, str, str]] = []
        for shard, sites in zip(shards, replies[1::2], strict=True):
            site_names.extend((shard, _text(part), _text(name)) for part, name in sites.items())
        pipe = self.client.pipeline(transaction=False)
        for shard, part, _ in site_names:
            pipe.zcount(self.schema.active_site(shard, part), f"({now}", "+inf")
        by_site: Counter[str] = Counter()
        for (_, _, name), count in zip(site_names, pipe.execute(), strict=True):
            if int(count):
                by_site[name] += int(count)
        return ActiveSessions(total, dict(by_site))

    def labelled_sites(self, candidates: list[str], limit: int) -> set[str]:
        """Return the candidates (busiest first) that have their own metric label, giving
        labels to new ones while fewer than `limit` sites have one."""
        if not candidates:
            return set()
        key = self.schema.labelled_sites()
        try:
            reply = self.client.evalsha(LABEL_SITES.sha, 1, key, limit, *candidates)
        except NoScriptError:
            self.client.script_load(LABEL_SITES.source)
            reply = self.client.evalsha(LABEL_SITES.sha, 1, key, limit, *candidates)
        return {_text(site) for site in reply}

    # Rankings

    def _version_ref(self, window: Window, number: int) -> tuple[str, str]:
        """Return the versions HASH and field of bucket `number` of `window`'s step."""
        if window.step == 60:
            return self.schema.ranking_versions(number // 60), f"m{number}"
        return self.schema.ranking_versions(number), "h"

    def _ranking_keys(self, dimension: str, window: Window, now: float) -> list[str]:
        numbers = window.bucket_numbers(now)
        if window.step == 60:
            return [self.schema.minute_ranking(dimension, n) for n in numbers]
        return [self.schema.hour_ranking(dimension, n) for n in numbers]

    def top_errors(self, dimension: str, window: Window, offset: int = 0, limit: int = 20,
                   now: float | None = None) -> RankingPage:
        """Return one page of the failure ranking by `dimension` over `window`."""
        if dimension not in ("ip", "site", "reason"):
            raise ValueError(f"invalid ranking dimension {dimension!r}: use ip, site or reason")
        if offset < 0 or not 0 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"offset must be >= 0 and limit between 0 and {MAX_PAGE_SIZE}")
        now = self.now() if now is None else now
        keys = self._ranking_keys(dimension, window, now)
        if self._cluster:
            return self._top_errors_merged(keys, offset, limit)
        numbers = window.bucket_numbers(now)
        ends = [(number + 1) * window.step for number in numbers]
        versions = [self._version_ref(window, number) for number in numbers]
        cached = self._rankings.page(keys, ends, versions, now, offset, limit)
        if cached is not None:
            items, total = cached
            return RankingPage(items, total, offset, limit)
        # Too many members to cache (a raised ranking cap): merge inside Redis instead.
        scratch = self.schema.scratch()
        try:
            reply = self.client.evalsha(TOP_PAGE.sha, len(keys) + 1, scratch, *keys, offset, limit)
        except NoScriptError:
            self.client.script_load(TOP_PAGE.source)
            reply = self.client.evalsha(TOP_PAGE.sha, len(keys) + 1, scratch, *keys, offset, limit)
        total, flat = reply
        items = [(_text(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)]
        return RankingPage(items, int(total), offset, limit)

    def _top_errors_merged(self, keys: list[str], offset: int, limit: int) -> RankingPage:
        """Merge rankings client-side: on Redis Cluster the buckets live in different slots."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.zrange(key, 0, -1, withscores=True)
        merged: Counter[str] = Counter()
        for members in pipe.execute():
            for member, score in members:
                merged[_text(member)] += int(score)
        ordered = sorted(merged.items(), key=lambda item: (-item[1], _Descending(item[0])))
        return RankingPage(ordered[offset : offset + limit], len(ordered), offset, limit)


class _Descending(str):
    """String whose ordering is reversed, to sort ties by member descending like ZREVRANGE."""

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)


def ratio_or_nan(counts: EventCounts) -> float:
    ratio = counts.failure_ratio()
    return math.nan if ratio is None else ratio
