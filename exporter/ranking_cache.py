"""Failure rankings merged over a window's buckets without holding Redis for long.

Merging a window inside Redis (ZUNIONSTORE in top_page.lua) costs Redis time in proportion to
every member of every bucket. With the default cap of 1,000 members per bucket that is tens of
milliseconds for 24h and hundreds for 7d (bench/, 2-core Xeon), and the recorders' writes wait
meanwhile. Instead,
`RankingCache` keeps in the exporter's memory the buckets that have closed (ended more than
`GRACE_SECONDS` ago), reads each of them once with short ZRANGE slices, and keeps their
merged ranking sorted. A page then costs Redis one ZCARD and one HGET of the bucket's version
per bucket, and a read of the open buckets (the current one, and the previous one during the
grace period). The version (`KeySchema.ranking_versions`) grows with every failure ranked in
the bucket, in the same script call, so a late write to a closed bucket (a buffered flush
retried after an outage) makes every exporter read it again: replicas never disagree.

Pages are exact, ordered like top_page.lua: by count descending, ties by member descending.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

GRACE_SECONDS = 120
"""A bucket still takes writes this long after it ends (buffered flushes, clock offsets)."""

REFRESH_SECONDS = 900
"""A cached bucket that no page used and that was read more than twice this long ago is
dropped from memory."""

MAX_CACHED_MEMBERS = 500_000
"""Members kept in memory over all buckets (an estimated 150 bytes each); past it, the reader
falls back to merging inside Redis."""

SLICE = 2000  # members per ZRANGE: well under a millisecond of Redis time each
MEMBERS_PER_ROUND_TRIP = 4000  # so that one pipeline never holds Redis for long either

Ranked = list[tuple[str, int]]


@dataclass
class _Bucket:
    scores: dict[str, int]
    signature: tuple[int, int]  # (ZCARD, version) when read
    read_at: float
    version: int  # the cache's own counter, to tell merges apart


@dataclass
class _Merged:
    versions: tuple[int, ...]
    ranked: Ranked  # ordered like ZREVRANGE
    scores: dict[str, int]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def order_like_zrevrange(items: Ranked) -> Ranked:
    """Sort by count descending, ties by member descending (two stable sorts)."""
    items.sort(key=itemgetter(0), reverse=True)
    items.sort(key=itemgetter(1), reverse=True)
    return items


class RankingCache:
    """Closed ranking buckets and their merges, for one Redis client; safe across threads."""

    def __init__(self, client: Any, clock: Callable[[], float] = time.monotonic,
                 max_members: int = MAX_CACHED_MEMBERS) -> None:
        self._client = client
        self._clock = clock
        self._max_members = max_members
        self._buckets: dict[str, _Bucket] = {}
        self._merged: dict[tuple[str, ...], _Merged] = {}
        self._versions = 0
        self._lock = threading.Lock()

    def page(self, keys: Sequence[str], ends: Sequence[float],
             versions: Sequence[tuple[str, str]], now: float, offset: int,
             limit: int) -> tuple[Ranked, int] | None:
        """Return one page and the distinct member count of the merged `keys`, or None when
        the buckets hold too many members to cache (the caller then merges in Redis).

        `ends` are the bucket end times (Unix s, server time), `versions` the (HASH, field)
        holding each bucket's version, and `now` the server time.
        """
        with self._lock:
            return self._page(keys, ends, versions, now, offset, limit)

    def _page(self, keys: Sequence[str], ends: Sequence[float],
              versions: Sequence[tuple[str, str]], now: float, offset: int,
              limit: int) -> tuple[Ranked, int] | None:
        pipe = self._client.pipeline(transaction=False)
        for key, (hash_key, field) in zip(keys, versions, strict=True):
            pipe.zcard(key)
            pipe.hget(hash_key, field)
        replies = pipe.execute()
        sizes = dict(zip(keys, (int(size) for size in replies[0::2]), strict=True))
        signatures = {key: (sizes[key], int(version or 0))
                      for key, version in zip(keys, replies[1::2], strict=True)}
        if sum(sizes.values()) > self._max_members:
            return None

        closed = tuple(key for key, end in zip(keys, ends, strict=True)
                       if end + GRACE_SECONDS <= now and sizes[key])
        open_keys = [key for key, end in zip(keys, ends, strict=True)
                     if end + GRACE_SECONDS > now and sizes[key]]
        self._forget_unused(set(closed), sizes)
        stale = [key for key in closed if key not in self._buckets
                 or self._buckets[key].signature != signatures[key]]
        fetched = self._read([*stale, *open_keys], sizes)
        for key in stale:
            self._store(key, fetched[key], signatures[key])

        merged = self._merge(closed)
        recent: Counter[str] = Counter()
        for key in open_keys:
            recent.update(fetched[key])
        return _page(merged, recent, offset, limit)

    def _store(self, key: str, scores: dict[str, int], signature: tuple[int, int]) -> None:
        previous = self._buckets.get(key)
        if previous is not None and previous.scores == scores:
            previous.read_at, previous.signature = self._clock(), signature
            return
        self._versions += 1
        self._buckets[key] = _Bucket(scores, signature, self._clock(), self._versions)

    def _forget_unused(self, closed: set[str], sizes: dict[str, int]) -> None:
        """Drop buckets that expired or went unused for two refresh periods, and everything
        once the cache would grow past its bound."""
        unused_since = self._clock() - 2 * REFRESH_SECONDS
        for key in [key for key, bucket in self._buckets.items()
                    if (key in sizes and not sizes[key])
                    or (key not in closed and bucket.read_at < unused_since)]:
            del self._buckets[key]
        cached = sum(len(bucket.scores) for bucket in self._buckets.values())
        if cached + sum(sizes[key] for key in closed) > self._max_members:
            self._buckets.clear()
            self._merged.clear()

    def _read(self, keys: list[str], sizes: dict[str, int]) -> dict[str, dict[str, int]]:
        """Read `keys` whole, in ZRANGE slices of `SLICE` members, a few per round trip."""
        scores: dict[str, dict[str, int]] = {key: {} for key in keys}
        for chunk in _round_trips(keys, sizes):
            pipe = self._client.pipeline(transaction=False)
            for key, start in chunk:
                pipe.zrange(key, start, start + SLICE - 1, withscores=True)
            for (key, _), members in zip(chunk, pipe.execute(), strict=True):
                target = scores[key]
                for member, score in members:
                    target[_text(member)] = int(score)
        # NOTE: a bucket larger than SLICE that changes between two slices (an open bucket
        # under a raised ranking cap) may be read with a member missed or counted twice.
        return scores

    def _merge(self, closed: tuple[str, ...]) -> _Merged:
        versions = tuple(self._buckets[key].version for key in closed)
        merged = self._merged.get(closed)
        if merged is not None and merged.versions == versions:
            return merged
        total: Counter[str] = Counter()
        for key in closed:
            total.update(self._buckets[key].scores)
        merged = _Merged(versions, order_like_zrevrange(list(total.items())), dict(total))
        if len(self._merged) >= 32:
            self._merged.pop(next(iter(self._merged)))
        self._merged[closed] = merged
        return merged


def _round_trips(keys: list[str], sizes: dict[str, int]) -> list[list[tuple[str, int]]]:
    """Group the (key, first rank) slices that read `keys` into pipelines of at most
    `MEMBERS_PER_ROUND_TRIP` members (one slice at least)."""
    groups: list[list[tuple[str, int]]] = [[]]
    members = 0
    for key in keys:
        for start in range(0, sizes[key], SLICE):
            count = min(SLICE, sizes[key] - start)
            if groups[-1] and members + count > MEMBERS_PER_ROUND_TRIP:
                groups.append([])
                members = 0
            groups[-1].append((key, start))
            members += count
    return [group for group in groups if group]


def _page(merged: _Merged, recent: Counter[str], offset: int, limit: int
          ) -> tuple[Ranked, int]:
    """Combine the closed buckets' ranking with the open buckets' counts into one page.

    A member absent from the open buckets keeps its closed count, so among those only the
    first `offset + limit` of the closed ranking can reach the page; members of the open
    buckets are all candidates.
    """
    needed = offset + limit
    candidates: Ranked = [(member, merged.scores.get(member, 0) + count)
                          for member, count in recent.items()]
    if needed:
        added = 0
        for member, count in merged.ranked:
            if member in recent:
                continue
            candidates.append((member, count))
            added += 1
            if added == needed:
                break
    order_like_zrevrange(candidates)
    total = len(merged.scores) + sum(1 for member in recent if member not in merged.scores)
    return candidates[offset:offset + limit], total
