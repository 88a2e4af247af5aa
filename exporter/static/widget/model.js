/**
 * Checks the exporter's JSON bodies and converts them to the shapes the widget renders.
 * Each parser throws MetricsRequestError('invalid-response') on a body that breaks the contract,
 * so a malformed response shows as an error instead of as wrong numbers.
 */

import { MetricsRequestError } from './client.js';

function invalid(field) {
  return new MetricsRequestError('invalid-response', { detail: `invalid field: ${field}` });
}

function count(value, field) {
  if (!Number.isFinite(value) || value < 0) throw invalid(field);
  return value;
}

function text(value, field) {
  if (typeof value !== 'string') throw invalid(field);
  return value;
}

function object(value, field) {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid(field);
  return value;
}

function list(value, field) {
  if (!Array.isArray(value)) throw invalid(field);
  return value;
}

function timestamp(value, field) {
  const date = new Date(text(value, field));
  if (Number.isNaN(date.getTime())) throw invalid(field);
  return date;
}

/** Converts a {name: count} object to [name, count] pairs, largest first, without zeros. */
function countsByName(value, field) {
  const pairs = Object.entries(object(value, field)).map(([name, n]) => [name, count(n, field)]);
  return pairs.filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

export function parseMetrics(body) {
  object(body, 'body');
  const active = object(body.active, 'active');
  const refresh = object(body.refresh, 'refresh');
  const forced = object(body.forced_logouts, 'forced_logouts');
  const ratio = refresh.failure_ratio;
  if (ratio !== null && (!Number.isFinite(ratio) || ratio < 0 || ratio > 1)) {
    throw invalid('refresh.failure_ratio');
  }
  const threshold = body.alert_threshold;
  if (!Number.isFinite(threshold) || threshold < 0 || threshold > 1)
    throw invalid('alert_threshold');

  const bySite = list(active.by_site, 'active.by_site').map((item) => ({
    site: text(item?.site, 'active.by_site.site'),
    count: count(item?.count, 'active.by_site.count'),
  }));
  return {
    window: text(body.window, 'window'),
    generatedAt: timestamp(body.generated_at, 'generated_at'),
    threshold,
    active: { total: count(active.total, 'active.total'), bySite },
    refresh: {
      success: count(refresh.success, 'refresh.success'),
      failure: count(refresh.failure, 'refresh.failure'),
      ratio,
      failuresByReason: countsByName(
        refresh.failures_by_reason ?? {},
        'refresh.failures_by_reason',
      ),
    },
    forced: {
      total: count(forced.total, 'forced_logouts.total'),
      byReason: countsByName(forced.by_reason ?? {}, 'forced_logouts.by_reason'),
    },
  };
}

export function parseTimeseries(body) {
  object(body, 'body');
  const stepSeconds = count(body.step_seconds, 'step_seconds');
  if (stepSeconds === 0) throw invalid('step_seconds');
  const points = list(body.points, 'points').map((point) => ({
    start: count(point?.start, 'points.start'),
    success: count(point?.success, 'points.success'),
    failure: count(point?.failure, 'points.failure'),
    forced: count(point?.forced_logouts ?? 0, 'points.forced_logouts'),
  }));
  return { window: text(body.window, 'window'), stepSeconds, points };
}

export function parseTopErrors(body) {
  object(body, 'body');
  const nextOffset = body.next_offset;
  if (nextOffset !== null && nextOffset !== undefined) count(nextOffset, 'next_offset');
  return {
    by: text(body.by, 'by'),
    items: list(body.items, 'items').map((item) => ({
      key: text(item?.key, 'items.key'),
      count: count(item?.count, 'items.count'),
    })),
    total: count(body.total, 'total'),
    offset: count(body.offset, 'offset'),
    nextOffset: nextOffset ?? null,
  };
}

/** Returns true when nothing at all happened in the window and no session is active. */
export function isEmptyWindow(metrics) {
  return (
    metrics.active.total === 0 &&
    metrics.refresh.success + metrics.refresh.failure === 0 &&
    metrics.forced.total === 0
  );
}
