/**
 * Writes fetched data into the widget's skeleton. Each function takes the `ui` references from
 * template.js, the parsed data, the string table `t` and the formatter `fmt`.
 */

import { buildChart } from './chart.js';
import { html } from './dom.js';
import { formatMessage } from './messages.js';

const MAX_SITES = 8;
const MAX_REASONS_IN_NOTE = 3;

export function reasonLabel(t, code) {
  return t[`reason.${code}`] ?? code;
}

function reasonsNote(pairs, t, fmt) {
  const shown = pairs
    .slice(0, MAX_REASONS_IN_NOTE)
    .map(([code, n]) => `${reasonLabel(t, code)} ${fmt.count(n)}`);
  if (pairs.length > MAX_REASONS_IN_NOTE) shown.push('…');
  return shown.join(t.listSeparator);
}

export function renderKpis(ui, metrics, t, fmt) {
  const windowName = t[`window.${metrics.window}`] ?? metrics.window;
  const overWindow = formatMessage(t.overWindow, { window: windowName });
  const { refresh, forced } = metrics;

  ui.active.value.textContent = fmt.count(metrics.active.total);
  ui.active.note.textContent = t.activeHint;
  ui.success.value.textContent = fmt.count(refresh.success);
  ui.success.note.textContent = overWindow;
  ui.failure.value.textContent = fmt.count(refresh.failure);
  ui.failure.note.textContent = refresh.failuresByReason.length
    ? reasonsNote(refresh.failuresByReason, t, fmt)
    : overWindow;
  ui.forced.value.textContent = fmt.count(forced.total);
  ui.forced.note.textContent = forced.byReason.length
    ? reasonsNote(forced.byReason, t, fmt)
    : overWindow;

  renderRate(ui, metrics, t, fmt);
}

/** Returns true when the failure ratio is above the alert threshold (strictly, like the alert rule). */
export function isAboveThreshold(metrics) {
  return metrics.refresh.ratio !== null && metrics.refresh.ratio > metrics.threshold;
}

function renderRate(ui, metrics, t, fmt) {
  const { ratio } = metrics.refresh;
  const threshold = fmt.threshold(metrics.threshold);
  const above = isAboveThreshold(metrics);
  const root = ui.rate.root;
  root.classList.toggle('is-above', above);
  root.classList.toggle('is-below', ratio !== null && !above);
  root.classList.toggle('is-idle', ratio === null);

  ui.rate.value.textContent = ratio === null ? t.noValue : fmt.ratio(ratio);
  ui.rateStatus.textContent =
    ratio === null ? t.thresholdNoTraffic : above ? t.thresholdAbove : t.thresholdBelow;
  ui.rate.note.textContent = formatMessage(t.thresholdLabel, { threshold });

  // The meter spans twice the threshold, or more when the ratio is larger, so the
  // threshold mark always sits in view.
  const scale = Math.min(1, Math.max(metrics.threshold * 2, (ratio ?? 0) * 1.1)) || 1;
  ui.meterFill.style.width = `${Math.min(100, ((ratio ?? 0) / scale) * 100)}%`;
  ui.meterMark.style.left = `${Math.min(100, (metrics.threshold / scale) * 100)}%`;
}

export function renderSites(ui, metrics, t, fmt) {
  const sites = [...metrics.active.bySite].sort(
    (a, b) => b.count - a.count || a.site.localeCompare(b.site),
  );
  const shown = sites.slice(0, MAX_SITES);
  const shownTotal = shown.reduce((sum, item) => sum + item.count, 0);
  const rest = metrics.active.total - shownTotal;
  const max = Math.max(1, ...shown.map((item) => item.count), rest);
  const rows = shown.map((item) => siteRow(item.site, item.count, max, fmt));
  if (rest > 0) rows.push(siteRow(t.sitesOther, rest, max, fmt, true));
  if (rows.length === 0) rows.push(emptyRow(t.sitesEmpty, 2));
  ui.sitesTable.body.replaceChildren(...rows);
}

function siteRow(name, count, max, fmt, muted = false) {
  const bar = html('span', { class: 'sites-bar', 'aria-hidden': 'true' });
  bar.style.width = `${Math.max(2, (count / max) * 100)}%`;
  return html('tr', {}, [
    html('th', { scope: 'row', class: muted ? 'key key-other' : 'key' }, [
      html('span', { text: name }),
      bar,
    ]),
    html('td', { class: 'num', text: fmt.count(count) }),
  ]);
}

function emptyRow(message, columns) {
  return html('tr', { class: 'empty-row' }, [html('td', { colspan: columns, text: message })]);
}

/**
 * Redraws the chart at `width` pixels and fills the table alternative.
 * `generatedAt` marks the bucket that is still in progress.
 */
export function renderChart(ui, series, metrics, width, t, fmt) {
  const step = series.stepSeconds >= 3600 ? t['step.hour'] : t['step.minute'];
  const windowLong = t[`windowLong.${series.window}`] ?? series.window;
  const success = series.points.reduce((sum, p) => sum + p.success, 0);
  const failure = series.points.reduce((sum, p) => sum + p.failure, 0);
  const partialFrom = metrics.generatedAt.getTime() / 1000;
  const describeBar = (point, partial) => {
    const time = fmt.bucket(new Date(point.start * 1000), series.stepSeconds);
    return formatMessage(t.chartBar, {
      time: partial ? formatMessage(t.chartRowPartial, { time }) : time,
      success: fmt.count(point.success),
      failure: fmt.count(point.failure),
    });
  };

  ui.chartTitle.textContent = formatMessage(t.chartTitle, { step });
  ui.chartNote.textContent = t.chartPartial;
  const chart = buildChart(series, {
    width,
    partialFrom,
    formatCount: fmt.count,
    formatTick: fmt.tick,
    describeBar,
    label: formatMessage(t.chartSummary, {
      success: fmt.count(success),
      failure: fmt.count(failure),
      window: windowLong,
      step,
    }),
  });
  ui.chart.querySelector('svg')?.remove();
  ui.chart.prepend(chart);
  ui.chartEmpty.hidden = success + failure > 0;

  const rows = series.points.map((point) => {
    const time = fmt.bucket(new Date(point.start * 1000), series.stepSeconds);
    const partial = point.start + series.stepSeconds > partialFrom;
    return html('tr', {}, [
      html('th', {
        scope: 'row',
        text: partial ? formatMessage(t.chartRowPartial, { time }) : time,
      }),
      html('td', { class: 'num', text: fmt.count(point.success) }),
      html('td', { class: 'num', text: fmt.count(point.failure) }),
      html('td', { class: 'num', text: fmt.count(point.forced) }),
    ]);
  });
  ui.chartTable.body.replaceChildren(...rows);
}

export function renderTop(ui, top, ranking, t, fmt) {
  ui.topTable.cells[1].textContent = t[`top.${ranking}`];
  ui.topNote.hidden = ranking !== 'ip';

  const rows = top.items.map((item, index) => {
    const key = html('td', { class: 'key' }, [
      html('span', { text: ranking === 'reason' ? reasonLabel(t, item.key) : item.key }),
    ]);
    if (ranking === 'reason' && reasonLabel(t, item.key) !== item.key) {
      key.append(html('code', { class: 'key-code', text: item.key }));
    }
    return html('tr', {}, [
      html('td', { class: 'rank', text: fmt.count(top.offset + index + 1) }),
      key,
      html('td', { class: 'num', text: fmt.count(item.count) }),
    ]);
  });
  if (rows.length === 0) rows.push(emptyRow(t.topEmpty, 3));
  ui.topTable.body.replaceChildren(...rows);

  const from = top.items.length ? top.offset + 1 : 0;
  ui.pagerRange.textContent = top.total
    ? formatMessage(t.topRange, {
        from: fmt.count(from),
        to: fmt.count(top.offset + top.items.length),
        total: fmt.count(top.total),
      })
    : '';
  ui.previousButton.disabled = top.offset === 0;
  ui.nextButton.disabled = top.nextOffset === null;
  ui.pager.hidden = top.total === 0;
}
