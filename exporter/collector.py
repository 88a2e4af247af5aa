"""Prometheus collector that reads session statistics from Redis at scrape time."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError
from sessionwatch.api_hooks.logs import RateLimitedLog
from sessionwatch.api_hooks.normalize import REASONS, SOURCES

from .reader import EventCounts, SessionStatsReader
from .windows import WINDOWS

_log = logging.getLogger(__name__)
OTHER_SITE = "other"


def sites_by_activity(counts: EventCounts, also: Iterable[str] = ()) -> list[str]:
    """Return every site of `counts` and `also`, busiest (all-time events) first."""
    activity: Counter[str] = Counter(dict.fromkeys(also, 0))
    activity.update(counts.success)
    activity.update(counts.started)
    activity.update(counts.ended)
    for (site, _, _), value in counts.failure.items():
        activity[site] += value
    for (site, _), value in counts.forced.items():
        activity[site] += value
    return sorted(activity, key=lambda site: (-activity[site], site))


class SessionCollector(Collector):
    """Build fresh metric families from Redis on every scrape.

    With Redis unreachable or slow, the scrape still returns the exporter's own health series
    (`sessionwatch_redis_up 0`) within the client's socket timeout, never an error page.
    """

    def __init__(self, reader: SessionStatsReader, max_sites: int = 100) -> None:
        self._reader = reader
        self._max_sites = max_sites
        self._scrape_errors = 0
        self._lock = threading.Lock()
        self._error_log = RateLimitedLog(_log)

    def describe(self) -> Iterable[Metric]:
        # An empty description keeps registration from running a scrape against Redis.
        return []

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            families = list(self._session_families())
            redis_up = 1.0
        except (RedisError, OSError) as exc:
            families = []
            redis_up = 0.0
            with self._lock:
                self._scrape_errors += 1
            self._error_log.log(logging.WARNING, "scrape", "scrape could not read Redis: %s: %s",
                                type(exc).__name__, exc)
        yield from families
        yield GaugeMetricFamily("sessionwatch_redis_up",
                                "Whether the last scrape could read Redis (1) or not (0).",
                                value=redis_up)
        yield CounterMetricFamily("sessionwatch_scrape_errors",
                                  "Scrapes of this exporter that could not read Redis.",
                                  value=self._scrape_errors)
        yield GaugeMetricFamily("sessionwatch_scrape_duration_seconds",
                                "Time this scrape spent reading Redis, in seconds.",
                                value=time.perf_counter() - started)

    def _session_families(self) -> Iterator[Metric]:
        reader = self._reader
        now = reader.now()
        totals = reader.totals()
        recent = reader.window_counts(WINDOWS["15m"], now)
        active = reader.active(now)
        # The set of labelled sites lives in Redis, so it survives exporter restarts and
        # every replica agrees; past `max_sites - 1` sites, the rest share `other`.
        sites = sites_by_activity(totals, active.by_site)
        labelled = reader.labelled_sites(sites, self._max_sites - 1)
        labels = {site: site if site in labelled else OTHER_SITE for site in sites}

        yield from self._counter_families(totals, labels)

        gauge = GaugeMetricFamily("session_active",
                                  "Sessions whose expiry is in the future, all sites.",
                                  value=active.total)
        yield gauge
        by_site = GaugeMetricFamily("session_active_by_site",
                                    "Sessions whose expiry is in the future, per site.",
                                    labels=["site"])
        folded: Counter[str] = Counter()
        for site, count in active.by_site.items():
            folded[labels[site]] += count
        for label, count in sorted(folded.items()):
            by_site.add_metric([label], count)
        yield by_site

        ratio = GaugeMetricFamily(
            "session_refresh_failure_ratio",
            "Failed refreshes divided by all refreshes over the window (absent with no traffic).",
            labels=["window"],
        )
        value = recent.failure_ratio()
        if value is not None and not math.isnan(value):
            ratio.add_metric(["15m"], value)
        yield ratio

    def _counter_families(self, totals: EventCounts, labels: dict[str, str]) -> Iterator[Metric]:
        success: Counter[str] = Counter()
        started: Counter[str] = Counter()
        ended: Counter[str] = Counter()
        failure: Counter[tuple[str, str, str]] = Counter()
        forced: Counter[tuple[str, str]] = Counter()
        for site, value in totals.success.items():
            success[labels[site]] += value
        for site, value in totals.started.items():
            started[labels[site]] += value
        for site, value in totals.ended.items():
            ended[labels[site]] += value
        for (site, reason, source), value in totals.failure.items():
            failure[(labels[site], reason, source)] += value
        for (site, reason), value in totals.forced.items():
            forced[(labels[site], reason)] += value

        # Every known reason and source exists from the first scrape, so increase() sees the
        # first burst of a new kind of failure.
        sites = sorted(set(labels.values())) or ["unknown"]
        for site in sites:
            success.setdefault(site, 0)
            started.setdefault(site, 0)
            ended.setdefault(site, 0)
            for reason in REASONS:
                forced.setdefault((site, reason), 0)
                for source in SOURCES:
                    failure.setdefault((site, reason, source), 0)

        yield _counter("session_refresh_success", "Successful session refreshes.",
                       ["site"], {(site,): v for site, v in success.items()})
        yield _counter("session_refresh_failure", "Failed session refreshes, by reason and "
                       "by where the failure was seen (server or client).",
                       ["site", "reason", "source"], failure)
        yield _counter("session_logout_forced", "Sessions ended by the server, by reason.",
                       ["site", "reason"], forced)
        yield _counter("session_started", "Sessions started (logins).",
                       ["site"], {(site,): v for site, v in started.items()})
        yield _counter("session_ended", "Sessions ended by the user (logouts).",
                       ["site"], {(site,): v for site, v in ended.items()})


def _counter(name: str, documentation: str, label_names: list[str],
             values: Mapping[Any, int]) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=label_names)
    for label_values, value in sorted(values.items()):
        family.add_metric(list(label_values), value)
    return family
